# Assembles the speed table from one run of run.sh: stepwedge's criterion medians (or the whole
# swfit process's wall time and peak memory), R's times (timing.R) and the glmm crate's
# (glmm_crate/), on the workloads of workloads.json. Writes results.json beside this script and
# replaces the README's table between its speed-table markers.
#
#   Rscript benches/speed/table.R WORKLOADS.json RUN_DIR CRITERION_DIR README.md DATE LOAD
#
# RUN_DIR holds r.json, glmm_crate.json and process.tsv (id, median seconds, peak MB).

suppressPackageStartupMessages(library(jsonlite))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 6) {
  stop("usage: Rscript table.R WORKLOADS.json RUN_DIR CRITERION_DIR README.md DATE LOAD")
}
spec <- fromJSON(args[1], simplifyVector = FALSE)
run_dir <- args[2]
criterion_dir <- args[3]
readme <- args[4]
run_date <- args[5]
load <- args[6]

read_or_empty <- function(path) {
  if (file.exists(path)) fromJSON(path, simplifyVector = FALSE) else list(cases = list())
}
r <- read_or_empty(file.path(run_dir, "r.json"))
crate <- read_or_empty(file.path(run_dir, "glmm_crate.json"))
process_file <- file.path(run_dir, "process.tsv")
process <- if (file.exists(process_file)) {
  read.delim(process_file, header = FALSE, col.names = c("id", "seconds", "peak_mb"),
             stringsAsFactors = FALSE)
} else {
  data.frame(id = character(), seconds = numeric(), peak_mb = numeric())
}

# stepwedge's seconds for a workload: the criterion median, or the process's median wall time.
ours <- function(w) {
  if (!is.null(w$process)) {
    row <- process[process$id == w$id, ]
    if (nrow(row) == 0) return(NULL)
    return(list(seconds = row$seconds[1], peak_mb = row$peak_mb[1]))
  }
  path <- file.path(criterion_dir, w$criterion, "new", "estimates.json")
  if (!file.exists(path)) return(NULL)
  list(seconds = fromJSON(path)$median$point_estimate / 1e9)
}

# Three significant digits, trailing zeros kept ("20.0 ms"), no trailing point ("441 us").
digits3 <- function(x) sub("\\.$", "", sprintf("%#.3g", x))

duration <- function(s) {
  if (s < 1e-3) paste(digits3(s * 1e6), "us")
  else if (s < 1) paste(digits3(s * 1e3), "ms")
  else paste(digits3(s), "s")
}

notes <- character()
note <- function(text) {
  if (!(text %in% notes)) notes <<- c(notes, text)
  match(text, notes)
}

# One cell of another engine: its time and the ratio to stepwedge's, or why there is none.
cell <- function(result, mine, fallback) {
  if (is.null(result)) return(if (is.null(fallback)) "" else sprintf("(%d)", note(fallback)))
  if (!is.null(result$skipped)) return(sprintf("not run (%d)", note(result$skipped)))
  if (!is.null(result$error)) return(sprintf("not fitted (%d)", note(result$error)))
  text <- duration(result$elapsed_seconds)
  if (!is.null(mine)) text <- sprintf("%s (%sx)", text,
                                      trimws(formatC(result$elapsed_seconds / mine$seconds,
                                                     digits = 2, format = "fg", big.mark = ",")))
  messages <- unlist(result$messages)
  if (isFALSE(result$converged)) messages <- c(messages, "reports no convergence")
  if (length(messages) > 0) text <- sprintf("%s (%d)", text, note(paste(messages, collapse = "; ")))
  text
}

# Engines whose log-likelihood falls short of the best of the others by more than 1e-4 say so
# (not for REML fits: the packages' REML log-likelihoods differ by constants).
flag_short <- function(engines, family) {
  if (identical(family, "gaussian")) return(engines)
  logliks <- vapply(engines, function(e) {
    if (is.list(e) && is.numeric(e$loglik)) e$loglik else NA_real_
  }, 0)
  if (all(is.na(logliks))) return(engines)
  best <- max(logliks, na.rm = TRUE)
  for (i in seq_along(engines)) {
    if (!is.na(logliks[i]) && best - logliks[i] > 1e-4) {
      engines[[i]]$messages <- c(unlist(engines[[i]]$messages),
        sprintf("log-likelihood %.10g, %.3g below the best of the others", logliks[i],
                best - logliks[i]))
    }
  }
  engines
}

rows <- character()
results <- list()
for (w in spec$workloads) {
  mine <- ours(w)
  rr <- r$cases[[w$id]]
  lme4 <- if (is.null(rr)) NULL else if (!is.null(rr$skipped)) rr else
    if (!is.null(rr$glmer)) rr$glmer else rr$lmer
  tmb <- if (!is.null(rr$skipped)) rr else rr$glmmTMB
  r_note <- if (is.null(w$r_note)) NULL else w$r_note
  crate_result <- crate$cases[[w$id]]
  others <- flag_short(list(lme4 = lme4, tmb = tmb, crate = crate_result), w$family)
  if (!is.null(lme4)) lme4 <- others$lme4
  if (!is.null(tmb)) tmb <- others$tmb
  if (!is.null(crate_result)) crate_result <- others$crate
  crate_note <- if (!is.null(w$glmm_crate_note)) w$glmm_crate_note else
    if (is.null(w$glmm_crate)) "not in the glmm crate's model language" else NULL
  ours_text <- if (is.null(mine)) "not measured" else duration(mine$seconds)
  if (!is.null(mine$peak_mb)) ours_text <- sprintf("%s, %.0f MB", ours_text, mine$peak_mb)
  label <- gsub("|", "\\|", w$label, fixed = TRUE)
  rows <- c(rows, sprintf("| %s | %s | %s | %s | %s |", label, ours_text,
                          cell(lme4, mine, r_note),
                          cell(tmb, mine, if (length(unlist(w$r)) == 0) r_note else NULL),
                          cell(crate_result, mine, crate_note)))
  results[[w$id]] <- list(label = w$label, stepwedge = mine, lme4 = lme4, glmmTMB = tmb,
                          glmm_crate = crate_result)
}

table <- c(
  sprintf("Measured on %s in one run of `benches/speed/run.sh` on this 2-core machine", run_date),
  sprintf("(load average %s). stepwedge's times are criterion medians (or the", load),
  "median wall time of the whole `swfit` process, with its peak memory), R's and the glmm",
  "crate's the median of their runs (R on one core); the ratio is the other's time over",
  "stepwedge's.",
  "",
  "| workload | stepwedge | lme4 (glmer / lmer) | glmmTMB | glmm crate |",
  "| --- | --- | --- | --- | --- |",
  rows
)
if (length(notes) > 0) {
  table <- c(table, "", sprintf("(%d) %s", seq_along(notes), gsub("\n", " ", notes)))
}

lines <- readLines(readme)
begin <- grep("^<!-- speed-table begin", lines)
end <- grep("^<!-- speed-table end", lines)
if (length(begin) != 1 || length(end) != 1 || end < begin) {
  stop(readme, ": needs one '<!-- speed-table begin -->' line before one '<!-- speed-table end -->' line")
}
lines <- c(lines[seq_len(begin)], table, lines[end:length(lines)])
tmp <- paste0(readme, ".tmp")
writeLines(lines, tmp)
file.rename(tmp, readme)

out <- list(date = run_date, load = load, r = r[c("r_version", "packages", "full")],
            glmm_crate_version = crate$glmm_crate_version, workloads = results)
out_file <- file.path(dirname(args[1]), "results.json")
tmp <- paste0(out_file, ".tmp")
write_json(out, tmp, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null")
invisible(file.rename(tmp, out_file))
