# LMM timing (NOT run by the tests): lmer on the data of benches/lmm_fit.rs.
#
# Run from this directory:
#   cd tests/reference && Rscript lmm_timing.R
#
# For each case, the median elapsed seconds of 5 runs (after one warm-up run) of
#   - lme4::lmer (REML, default control), the fit alone;
#   - lmerTest::lmer, which also computes the Hessian of the deviance over the variance
#     parameters that Satterthwaite's df need (as stepwedge's `Lmm::fit` does by default),
# and writes lmm_timings.json here.

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})

cases <- list(
  a_sleepstudy_days_subject = list(
    file = "kenward_roger/sleepstudy.csv",
    formula = Reaction ~ Days + (Days | Subject)
  ),
  b_costs_cluster = list(
    file = "data/cost/costs_a.csv",
    formula = cost ~ treated + factor(period) + age + (1 | cluster)
  ),
  c_costs_nested = list(
    file = "data/cost/costs_a.csv",
    formula = cost ~ treated + factor(period) + age + (1 | cluster) + (1 | cluster:period)
  )
)

median_seconds <- function(f, runs = 5) {
  f()
  times <- vapply(seq_len(runs), function(i) {
    start <- proc.time()[["elapsed"]]
    f()
    proc.time()[["elapsed"]] - start
  }, numeric(1))
  median(times)
}

out <- list(
  description = paste(
    "Median elapsed seconds (5 runs) of lme4::lmer and lmerTest::lmer (REML) on the data of",
    "benches/lmm_fit.rs, written by lmm_timing.R"
  ),
  r_version = R.version.string,
  packages = list(
    lme4 = as.character(packageVersion("lme4")),
    lmerTest = as.character(packageVersion("lmerTest"))
  ),
  runs = 5,
  cases = list()
)
for (name in names(cases)) {
  case <- cases[[name]]
  d <- read.csv(case$file)
  fit <- lme4::lmer(case$formula, data = d)
  out$cases[[name]] <- list(
    rows = nrow(d),
    formula = paste(deparse(case$formula, width.cutoff = 500L), collapse = ""),
    lmer_seconds = median_seconds(function() lme4::lmer(case$formula, data = d)),
    lmerTest_seconds = median_seconds(function() lmerTest::lmer(case$formula, data = d)),
    reml_criterion = unname(REMLcrit(fit)),
    theta = unname(getME(fit, "theta"))
  )
  cat(name, out$cases[[name]]$lmer_seconds, out$cases[[name]]$lmerTest_seconds, "\n")
}
write_json(out, "lmm_timings.json", auto_unbox = TRUE, digits = NA, pretty = TRUE)
