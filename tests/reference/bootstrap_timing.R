# What the cluster bootstrap of benches/marginal_bootstrap.rs costs in R with the tools
# researchers use (lme4::glmer, glmmTMB), on the same patients. Not run by the tests: nothing in
# the test suite reads bootstrap_timings.json; the README's speed section quotes it.
#
# The data are written by the crate's simulator (the benchmark's cohort: 12 clusters x 8
# periods, Poisson cluster-period sizes of mean 2,609 / 96, seed 2609):
#   cargo run --release --example simulate_cohort -- --clusters 12 --periods 8 \
#       --size 27.177083333333332 --seed 2609 --out /tmp/sw_bench_a.csv
# The file has 2,619 data rows; the benchmark (and this script) use its FIRST 2,609 data rows
# in file order. Then, from this directory:
#   Rscript bootstrap_timing.R [/tmp/sw_bench_a.csv] [bootstrap_timings.json]
#
# Model: death30 ~ treated + factor(period) + age + (1 | cluster), binomial logit, Laplace:
# glmer (nAGQ = 1, default control) and glmmTMB (default control). One bootstrap replicate =
# draw 12 clusters with replacement (set.seed(1); each drawn copy relabelled as a distinct
# cluster), refit, then the marginal (g-computation) risks
#   r_a = mean_i integral plogis(x_i(a)' beta + sigma t) dnorm(t) dt,  treated := a in {0, 1},
# by a 40-node Gauss-Hermite rule for N(0, 1) (statmod::gauss.quad.prob), RR = r1 / r0,
# RD = r1 - r0. The elapsed time of a replicate covers the refit and the standardisation (the
# replicate data frames are built beforehand, identically for every method). The loops are
# plain sequential for loops, as a researcher would write them. Methods:
#   glmer          glmer from its default start;
#   glmer_warm     glmer started at the full-data estimates, start = list(theta =, fixef =);
#   glmmTMB        glmmTMB from its default start.
# 20 replicates per method; the cost of the benchmark's job (2,000 replicates + 12 jackknife
# refits) is EXTRAPOLATED as median per-replicate seconds x 2,012. Warnings (e.g. glmer's
# convergence warnings, and its "nearly unidentifiable ... Rescale variables?" warning for the
# unscaled age) are caught, counted and written out, and each method's log-likelihoods and
# RR / RD are compared with glmmTMB's on the same replicates.
# R runs single-threaded (reference BLAS; glmmTMB's default of 1 OpenMP thread).

suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(statmod)
  library(jsonlite)
})
source("json_helpers.R")

t_script <- proc.time()[["elapsed"]]

args <- commandArgs(trailingOnly = TRUE)
data_file <- if (length(args) >= 1) args[1] else "/tmp/sw_bench_a.csv"
out_file <- if (length(args) >= 2) args[2] else "bootstrap_timings.json"

N_ROWS <- 2609L
B <- 20L
B_TARGET <- 2000L
N_JACKKNIFE <- 12L
GH_NODES <- 40L
FORMULA <- death30 ~ treated + factor(period) + age + (1 | cluster)
FIXED_RHS <- ~ treated + factor(period) + age

# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
all_rows <- read.csv(data_file, stringsAsFactors = FALSE)
stopifnot(nrow(all_rows) == 2619L,
          identical(names(all_rows), c("id", "cluster", "period", "treated", "age", "sex",
                                       "residence", "death30", "cost")))
dat <- all_rows[seq_len(N_ROWS), ]
rownames(dat) <- NULL
CLUSTERS <- sort(unique(dat$cluster))
G <- length(CLUSTERS)
stopifnot(G == 12L, all(dat$treated %in% 0:1), all(dat$death30 %in% 0:1))
cat(sprintf("%s: first %d of %d rows, %d clusters, %d deaths\n", data_file, nrow(dat),
            nrow(all_rows), G, sum(dat$death30)))

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
GH <- statmod::gauss.quad.prob(GH_NODES, dist = "normal")  # nodes/weights for N(0, 1)

# Marginal standardised risks of a fit (beta named as the fixed-effect columns, sigma the
# random-intercept SD) over the rows of d.
standardise <- function(beta, sigma, d) {
  risk <- function(a) {
    d$treated <- a
    X <- model.matrix(FIXED_RHS, d)[, names(beta), drop = FALSE]
    eta <- drop(X %*% beta)
    mean(plogis(outer(eta, sigma * GH$nodes, "+")) %*% GH$weights)
  }
  r1 <- risk(1)
  r0 <- risk(0)
  c(r1 = r1, r0 = r0, RR = r1 / r0, RD = r1 - r0)
}

# Evaluate expr, catching (and muffling) its warnings; messages are left alone.
catch_warnings <- function(expr) {
  w <- character(0)
  val <- withCallingHandlers(expr, warning = function(cond) {
    w <<- c(w, conditionMessage(cond))
    invokeRestart("muffleWarning")
  })
  list(value = val, warnings = w)
}

# One fit + standardisation. Returns elapsed seconds (fit+standardisation and the two parts),
# the statistic, estimates and the warnings / convergence notes.
fit_glmer <- function(d, start = NULL) {
  t0 <- proc.time()[["elapsed"]]
  cw <- catch_warnings(
    if (is.null(start)) glmer(FORMULA, data = d, family = binomial, nAGQ = 1)
    else glmer(FORMULA, data = d, family = binomial, nAGQ = 1, start = start))
  m <- cw$value
  beta <- fixef(m)
  sigma <- unname(getME(m, "theta"))
  t1 <- proc.time()[["elapsed"]]
  stat <- standardise(beta, sigma, d)
  t2 <- proc.time()[["elapsed"]]
  notes <- c(m@optinfo$conv$lme4$messages, if (isSingular(m)) "singular fit (isSingular)")
  list(elapsed = t2 - t0, fit_elapsed = t1 - t0, std_elapsed = t2 - t1, stat = stat,
       treated = unname(beta[["treated"]]), sigma = sigma,
       loglik = as.numeric(logLik(m)), warnings = cw$warnings, notes = as.character(notes),
       model = m)
}

fit_glmmtmb <- function(d) {
  t0 <- proc.time()[["elapsed"]]
  cw <- catch_warnings(glmmTMB(FORMULA, data = d, family = binomial))
  m <- cw$value
  beta <- fixef(m)$cond
  sigma <- attr(VarCorr(m)$cond$cluster, "stddev")[[1]]
  t1 <- proc.time()[["elapsed"]]
  stat <- standardise(beta, sigma, d)
  t2 <- proc.time()[["elapsed"]]
  notes <- c(if (m$fit$convergence != 0) paste("nlminb:", m$fit$message),
             if (!isTRUE(m$sdr$pdHess)) "non-positive-definite Hessian (sdr$pdHess FALSE)")
  list(elapsed = t2 - t0, fit_elapsed = t1 - t0, std_elapsed = t2 - t1, stat = stat,
       treated = unname(beta[["treated"]]), sigma = unname(sigma),
       loglik = as.numeric(logLik(m)), warnings = cw$warnings, notes = as.character(notes),
       model = m)
}

count_strings <- function(x) {
  if (length(x) == 0L) return(structure(list(), names = character(0)))
  tab <- table(x)
  as.list(setNames(as.integer(tab), names(tab)))
}

fit_json <- function(r, label) {
  list(elapsed_seconds = jnum(r$elapsed), fit_seconds = jnum(r$fit_elapsed),
       standardisation_seconds = jnum(r$std_elapsed),
       r1 = jnum(r$stat[["r1"]]), r0 = jnum(r$stat[["r0"]]), RR = jnum(r$stat[["RR"]]),
       RD = jnum(r$stat[["RD"]]), treated = jnum(r$treated), sd_cluster = jnum(r$sigma),
       loglik = jnum(r$loglik), warnings = jstr(r$warnings), notes = jstr(r$notes),
       timing = label)
}

# ---------------------------------------------------------------------------
# full-data fits: the first call of each (cold: includes first-call overhead) and a second
# call (warm); the warm glmer fit provides the start of glmer_warm
# ---------------------------------------------------------------------------
full <- list()
full$glmer_cold <- fit_glmer(dat)
full$glmer_warm <- fit_glmer(dat)
full$glmmTMB_cold <- fit_glmmtmb(dat)
full$glmmTMB_warm <- fit_glmmtmb(dat)
for (k in names(full)) {
  r <- full[[k]]
  cat(sprintf("full data %-13s %6.3f s (fit %6.3f, std %6.4f)  loglik %.6f  RR %.6f  RD %.6f  warnings %d\n",
              k, r$elapsed, r$fit_elapsed, r$std_elapsed, r$loglik, r$stat[["RR"]],
              r$stat[["RD"]], length(r$warnings)))
}
START <- list(theta = getME(full$glmer_warm$model, "theta"),
              fixef = fixef(full$glmer_warm$model))

# ---------------------------------------------------------------------------
# bootstrap samples (set.seed(1)): B x G cluster indices into CLUSTERS; copy j of the
# replicate is relabelled "R01".."R12" so repeated clusters are distinct clusters
# ---------------------------------------------------------------------------
set.seed(1)
draws <- t(vapply(seq_len(B), function(b) sample.int(G, G, replace = TRUE), integer(G)))
rows_of <- split(seq_len(nrow(dat)), factor(dat$cluster, levels = CLUSTERS))
make_replicate <- function(idx) {
  parts <- lapply(seq_along(idx), function(j) {
    p <- dat[rows_of[[idx[j]]], ]
    p$cluster <- sprintf("R%02d", j)
    p
  })
  d <- do.call(rbind, parts)
  rownames(d) <- NULL
  d
}
replicates <- lapply(seq_len(B), function(b) make_replicate(draws[b, ]))

# ---------------------------------------------------------------------------
# timed sequential loops, one method after another
# ---------------------------------------------------------------------------
methods <- list(
  glmer = function(d) fit_glmer(d),
  glmer_warm = function(d) fit_glmer(d, start = START),
  glmmTMB = function(d) fit_glmmtmb(d)
)
boot <- list()
for (meth in names(methods)) {
  invisible(gc())
  f <- methods[[meth]]
  res <- vector("list", B)
  t_loop <- proc.time()[["elapsed"]]
  for (b in seq_len(B)) {
    res[[b]] <- f(replicates[[b]])
    res[[b]]$model <- NULL
  }
  t_loop <- proc.time()[["elapsed"]] - t_loop
  boot[[meth]] <- list(res = res, loop = t_loop)
  el <- vapply(res, `[[`, 0, "elapsed")
  cat(sprintf("%-10s replicates with warnings: %d of %d\n", meth,
              sum(vapply(res, function(r) length(r$warnings) > 0, TRUE)), B))
  cat(sprintf("%-10s loop %6.2f s  median/replicate %.4f s  (min %.4f, max %.4f)  -> x %d = %.1f s\n",
              meth, t_loop, median(el), min(el), max(el), B_TARGET + N_JACKKNIFE,
              median(el) * (B_TARGET + N_JACKKNIFE)))
}

# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------
CONV_PATTERN <- "failed to converge|failure to converge|convergence code"
has_warning <- function(res, pattern) {
  sum(vapply(res, function(r) any(grepl(pattern, r$warnings)), TRUE))
}
ref_ll <- vapply(boot$glmmTMB$res, `[[`, 0, "loglik")
ref_stat <- function(k) vapply(boot$glmmTMB$res, function(r) r$stat[[k]], 0)

method_json <- function(meth, description) {
  res <- boot[[meth]]$res
  el <- vapply(res, `[[`, 0, "elapsed")
  fit_el <- vapply(res, `[[`, 0, "fit_elapsed")
  std_el <- vapply(res, `[[`, 0, "std_elapsed")
  stat <- function(k) vapply(res, function(r) r$stat[[k]], 0)
  warns <- unlist(lapply(res, `[[`, "warnings"))
  notes <- unlist(lapply(res, `[[`, "notes"))
  list(
    description = description,
    replicates = B,
    per_replicate_elapsed_seconds = jvec(el),
    per_replicate_fit_seconds = jvec(fit_el),
    per_replicate_standardisation_seconds = jvec(std_el),
    median_elapsed_seconds = jnum(median(el)),
    mean_elapsed_seconds = jnum(mean(el)),
    loop_elapsed_seconds = jnum(boot[[meth]]$loop),
    extrapolated_seconds_2000_replicates_plus_12_jackknife = jnum(median(el) * (B_TARGET + N_JACKKNIFE)),
    extrapolation_note = sprintf(paste(
      "EXTRAPOLATION from %d replicates: median per-replicate elapsed seconds x %d",
      "(%d bootstrap replicates + %d leave-one-cluster-out jackknife refits); not measured"),
      B, B_TARGET + N_JACKKNIFE, B_TARGET, N_JACKKNIFE),
    statistics = list(r1 = jvec(stat("r1")), r0 = jvec(stat("r0")), RR = jvec(stat("RR")),
                      RD = jvec(stat("RD")),
                      treated = jvec(vapply(res, `[[`, 0, "treated")),
                      sd_cluster = jvec(vapply(res, `[[`, 0, "sigma")),
                      loglik = jvec(vapply(res, `[[`, 0, "loglik"))),
    replicates_with_warnings = sum(vapply(res, function(r) length(r$warnings) > 0, TRUE)),
    replicates_with_convergence_warning = has_warning(res, CONV_PATTERN),
    replicates_with_nearly_unidentifiable_warning = has_warning(res, "nearly unidentifiable"),
    warning_counts = count_strings(warns),
    replicates_with_notes = sum(vapply(res, function(r) length(r$notes) > 0, TRUE)),
    note_counts = count_strings(notes),
    versus_glmmTMB = list(
      note = paste(
        "this method minus glmmTMB on the same replicates (the same Laplace likelihood):",
        "a clearly negative loglik difference means the fit stopped short of the maximum"),
      loglik_difference = jvec(vapply(res, `[[`, 0, "loglik") - ref_ll),
      min_loglik_difference = jnum(min(vapply(res, `[[`, 0, "loglik") - ref_ll)),
      max_abs_RR_difference = jnum(max(abs(stat("RR") - ref_stat("RR")))),
      max_abs_RD_difference = jnum(max(abs(stat("RD") - ref_stat("RD")))))
  )
}

t_total <- proc.time()[["elapsed"]] - t_script
out <- list(
  description = paste(
    "R side of the speed comparison for benches/marginal_bootstrap.rs: elapsed seconds of a",
    "cluster-bootstrap replicate (refit + marginal standardisation) with lme4::glmer and",
    "glmmTMB, written by bootstrap_timing.R. Not used by the tests; the README's speed section",
    "quotes it."),
  data = list(
    file = data_file,
    produced_by = paste(
      "cargo run --release --example simulate_cohort -- --clusters 12 --periods 8",
      "--size 27.177083333333332 --seed 2609 --out /tmp/sw_bench_a.csv"),
    rows_in_file = nrow(all_rows),
    rows_used = N_ROWS,
    rows_used_note = "the first 2,609 data rows in file order, as in benches/marginal_bootstrap.rs",
    clusters = G,
    deaths = sum(dat$death30)),
  model = "death30 ~ treated + factor(period) + age + (1 | cluster), binomial logit, Laplace",
  statistic = paste(
    "r_a = mean over the replicate's rows of integral plogis(x_i(a)' beta + sigma t) dnorm(t) dt",
    "with treated := a, by a", GH_NODES, "-node Gauss-Hermite rule for N(0, 1)",
    "(statmod::gauss.quad.prob); RR = r1 / r0, RD = r1 - r0"),
  bootstrap = paste(
    "set.seed(1); each replicate draws 12 clusters with replacement",
    "(sample.int(12, 12, replace = TRUE), clusters in sorted label order), each drawn copy",
    "relabelled as a distinct cluster; the replicate data frames are built before the timed",
    "loops and shared by all methods; each replicate's elapsed time covers refit +",
    "standardisation, measured with proc.time() in a plain sequential for loop"),
  bootstrap_draws = jmat(draws),
  r_version = R.version.string,
  packages = list(lme4 = as.character(packageVersion("lme4")),
                  glmmTMB = as.character(packageVersion("glmmTMB")),
                  TMB = as.character(packageVersion("TMB")),
                  Matrix = as.character(packageVersion("Matrix")),
                  statmod = as.character(packageVersion("statmod")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  machine = list(
    cores = parallel::detectCores(),
    blas = extSoftVersion()[["BLAS"]],
    note = paste(
      "2 cores; R single-threaded (reference BLAS, glmmTMB's default of 1 OpenMP thread);",
      "nothing else heavy running; the Rust criterion benchmark (about 3.8 s median) uses",
      "both cores")),
  full_data_fits = list(
    note = paste(
      "each fit twice: *_cold is the first call in the session (includes first-call",
      "overhead), *_warm the second; glmer_warm's estimates are the start of the",
      "warm-started bootstrap method"),
    glmer_cold = fit_json(full$glmer_cold, "first glmer call"),
    glmer_warm = fit_json(full$glmer_warm, "second glmer call"),
    glmmTMB_cold = fit_json(full$glmmTMB_cold, "first glmmTMB call"),
    glmmTMB_warm = fit_json(full$glmmTMB_warm, "second glmmTMB call")),
  methods = list(
    glmer = method_json("glmer", "glmer(nAGQ = 1, default control) from its default start"),
    glmer_warm = method_json("glmer_warm", paste(
      "glmer(nAGQ = 1, default control, start = list(theta =, fixef =) from the full-data",
      "fit); reported separately, not what a default user call does. With fixef in start,",
      "glmer skips its nAGQ = 0 initial step and its derivative-free optimisers search",
      "(theta, beta) jointly from the start; see versus_glmmTMB and the warning counts for",
      "whether these fits reached the maximum")),
    glmmTMB = method_json("glmmTMB", "glmmTMB (Laplace, default control) from its default start")),
  script_total_elapsed_seconds = jnum(t_total)
)
write_reference_json(out, out_file)
cat(sprintf("wrote %s; total %.1f s\n", out_file, t_total))
