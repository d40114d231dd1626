# Timing of lme4::glmer, glmmTMB and lme4::lmer on the 100,100-patient cohort of the benchmarks
# `glmm_slope/e_100000_random_treatment` (benches/glmm_fit.rs) and `lmm/d_costs_100000`
# (benches/lmm_fit.rs), with the estimates the fits are compared on. Not run by the tests.
#
# The data are written by the crate's simulator, so that R and the benchmarks fit the same
# patients:
#   cargo run --release --example simulate_cohort -- --clusters 20 --periods 11 \
#       --size 455 --fixed --seed 19 --out /tmp/slopes_data/slope_100100.csv
# Then, from this directory:
#   Rscript slope_timing.R /tmp/slopes_data/slope_100100.csv slope_timings.json
#
# Each model is fitted once for its estimates, then timed: the median elapsed seconds of `runs`
# further fits (the CSV is read first; R on one core, reference BLAS). glmer (nAGQ = 1) and
# glmmTMB (Laplace) use their default control, as a user would; lmer is REML.

suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
data_file <- if (length(args) >= 1) args[1] else "/tmp/slopes_data/slope_100100.csv"
out_file <- if (length(args) >= 2) args[2] else "slope_timings.json"
runs <- 3

median_seconds <- function(f) {
  median(vapply(seq_len(runs), function(i) system.time(f())[["elapsed"]], numeric(1)))
}

quietly <- function(expr) {
  msgs <- character(0)
  value <- withCallingHandlers(expr, warning = function(w) {
    msgs <<- c(msgs, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
  list(value = value, messages = msgs)
}

d <- read.csv(data_file)
out <- list(
  description = paste(
    "Median elapsed seconds of", runs, "fits each (after one fit for the estimates) of glmer,",
    "glmmTMB and lmer on the cohort of the benchmarks glmm_slope/e_100000_random_treatment and",
    "lmm/d_costs_100000, written by slope_timing.R"
  ),
  data = "simulate_cohort --clusters 20 --periods 11 --size 455 --fixed --seed 19",
  rows = nrow(d),
  r_version = R.version.string,
  packages = list(
    lme4 = as.character(packageVersion("lme4")),
    glmmTMB = as.character(packageVersion("glmmTMB"))
  ),
  runs = runs
)

# (e) logistic, correlated random intercept and treatment effect.
fe <- death30 ~ treated + factor(period) + (1 + treated | cluster)
g <- quietly(glmer(fe, data = d, family = binomial, nAGQ = 1))
m <- g$value
tm <- glmmTMB(fe, data = d, family = binomial)
out$e_100000_random_treatment <- list(
  formula = paste(deparse(fe, width.cutoff = 500L), collapse = ""),
  glmer = list(
    seconds = median_seconds(function() quietly(glmer(fe, data = d, family = binomial))),
    loglik = as.numeric(logLik(m)),
    treated = unname(fixef(m)[["treated"]]),
    treated_se = unname(sqrt(diag(as.matrix(vcov(m))))[[2]]),
    theta = unname(getME(m, "theta")),
    messages = as.list(c(g$messages, m@optinfo$conv$lme4$messages))
  ),
  glmmTMB = list(
    seconds = median_seconds(function() glmmTMB(fe, data = d, family = binomial)),
    loglik = as.numeric(logLik(tm)),
    treated = unname(fixef(tm)$cond[["treated"]]),
    treated_se = unname(sqrt(diag(vcov(tm)$cond))[[2]]),
    sd = unname(attr(VarCorr(tm)$cond$cluster, "stddev")),
    correlation = attr(VarCorr(tm)$cond$cluster, "correlation")[1, 2],
    convergence = tm$fit$convergence,
    pdHess = tm$sdr$pdHess
  )
)
cat("e glmer", out$e_100000_random_treatment$glmer$seconds, "glmmTMB",
    out$e_100000_random_treatment$glmmTMB$seconds, "\n")

# (d) the LMM cost model.
fd <- cost ~ treated + factor(period) + age + (1 | cluster)
l <- lmer(fd, data = d)
out$d_costs_100000 <- list(
  formula = paste(deparse(fd, width.cutoff = 500L), collapse = ""),
  lmer = list(
    seconds = median_seconds(function() lmer(fd, data = d)),
    reml_criterion = unname(REMLcrit(l)),
    loglik = as.numeric(logLik(l)),
    treated = unname(fixef(l)[["treated"]]),
    treated_se = unname(sqrt(diag(as.matrix(vcov(l))))[[2]]),
    theta = unname(getME(l, "theta")),
    sigma = sigma(l)
  )
)
cat("d lmer", out$d_costs_100000$lmer$seconds, "\n")
write_json(out, out_file, auto_unbox = TRUE, digits = NA, pretty = TRUE)
