# Times lme4 (glmer, lmer) and glmmTMB on the workloads of workloads.json, on the same CSV files
# as stepwedge's benches and the glmm crate, for the speed table that run.sh writes.
#
#   Rscript benches/speed/timing.R benches/speed/workloads.json DATA_DIR OUT.json [--full]
#
# Each engine fits the workload's formula with its default control (glmer: nAGQ as the workload
# says, default 1; lmer and glmmTMB's Gaussian fits: REML), timed from the data frame in memory
# to the fit (the CSV is read first), median of `r_runs` runs (default 5; one run when the first
# takes over 10 s). Workloads marked `slow` are timed only with --full. The log-likelihood, the
# `treated` coefficient and any warnings are written beside each time. R runs on one core
# (reference BLAS).

suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
full <- "--full" %in% args
args <- setdiff(args, "--full")
if (length(args) != 3) {
  stop("usage: Rscript timing.R WORKLOADS.json DATA_DIR OUT.json [--full]")
}
spec <- fromJSON(args[1], simplifyVector = FALSE)
data_dir <- args[2]
out_file <- args[3]

slow_seconds <- 10

family_of <- function(name) {
  switch(name,
    binomial = binomial(),
    poisson = poisson(),
    gamma = Gamma(link = "log"),
    gaussian = gaussian(),
    stop("unknown family ", name)
  )
}

fit_once <- function(engine, formula, family, nagq, data) {
  switch(engine,
    glmer = glmer(formula, data = data, family = family_of(family), nAGQ = nagq),
    lmer = lmer(formula, data = data, REML = TRUE),
    glmmTMB = glmmTMB(formula, data = data, family = family_of(family),
                      REML = identical(family, "gaussian")),
    stop("unknown engine ", engine)
  )
}

treated_of <- function(fit) {
  beta <- if (inherits(fit, "glmmTMB")) fixef(fit)$cond else fixef(fit)
  if ("treated" %in% names(beta)) unname(beta[["treated"]]) else NULL
}

time_engine <- function(engine, w, data) {
  formula <- as.formula(w$formula)
  nagq <- if (is.null(w$nagq)) 1 else w$nagq
  runs <- if (is.null(w$r_runs)) 5 else w$r_runs
  seconds <- c()
  messages <- character()
  fit <- NULL
  for (i in seq_len(runs)) {
    gc()
    elapsed <- system.time(
      fit <- withCallingHandlers(
        tryCatch(fit_once(engine, formula, w$family, nagq, data),
                 error = function(e) e),
        warning = function(wn) {
          messages <<- unique(c(messages, conditionMessage(wn)))
          invokeRestart("muffleWarning")
        }
      )
    )[["elapsed"]]
    if (inherits(fit, "error")) {
      return(list(error = conditionMessage(fit)))
    }
    seconds <- c(seconds, elapsed)
    if (seconds[1] > slow_seconds) break
  }
  list(
    elapsed_seconds = median(seconds),
    runs = length(seconds),
    loglik = as.numeric(logLik(fit)),
    treated = treated_of(fit),
    messages = messages
  )
}

cases <- list()
for (w in spec$workloads) {
  engines <- unlist(w$r)
  if (length(engines) == 0) next
  if (isTRUE(w$slow) && !full) {
    cases[[w$id]] <- list(skipped = "slow: timed only with run.sh --full")
    next
  }
  data <- read.csv(file.path(data_dir, w$file))
  result <- list()
  for (engine in engines) {
    message("R: ", w$id, " ", engine)
    result[[engine]] <- time_engine(engine, w, data)
  }
  cases[[w$id]] <- result
}

out <- list(
  description = "Elapsed seconds of lme4 and glmmTMB fits (default control), median of runs, written by benches/speed/timing.R",
  r_version = R.version.string,
  packages = list(lme4 = as.character(packageVersion("lme4")),
                  glmmTMB = as.character(packageVersion("glmmTMB"))),
  full = full,
  cases = cases
)
tmp <- paste0(out_file, ".tmp")
write_json(out, tmp, auto_unbox = TRUE, digits = NA, pretty = TRUE, null = "null")
file.rename(tmp, out_file)
