# Timing of lme4::glmer and glmmTMB on the data of the GLMM benchmarks (benches/glmm_fit.rs),
# for the ratios quoted against them. Not run by the tests.
#
# The data are written by the crate's simulator, so that R and the benchmarks fit the same
# patients:
#   cargo run --release --example simulate_cohort -- --clusters 12 --periods 8 \
#       --size 27.177083333333332 --seed 2609 --out /tmp/swbench/a_2609.csv
#   cargo run --release --example simulate_cohort -- --clusters 50 --periods 12 \
#       --size 1666 --fixed --seed 1 --out /tmp/swbench/b_1m.csv
# Then, from this directory:
#   Rscript glmm_bench_timing.R /tmp/swbench glmm_bench_timings.json
#
# Each case is fitted by glmer (nAGQ = 1, default control, as a user would) and glmmTMB
# (Laplace, default control); the elapsed seconds of the fit alone (the CSV is read first) and
# the estimates are written to the JSON. R runs on one core (reference BLAS).

suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[1] else "/tmp/swbench"
out_file <- if (length(args) >= 2) args[2] else "glmm_bench_timings.json"

cases <- list(
  list(id = "a_2609_patients", file = "a_2609.csv",
       formula = "death30 ~ treated + factor(period) + (1 | cluster)"),
  list(id = "c_1m_without_age", file = "b_1m.csv",
       formula = "death30 ~ treated + factor(period) + sex + residence + (1 | cluster)"),
  list(id = "b_1m_with_age", file = "b_1m.csv",
       formula = "death30 ~ treated + factor(period) + age + sex + residence + (1 | cluster)")
)

fit_summary <- function(elapsed, loglik, beta, se, sd, messages) {
  list(
    elapsed_seconds = unname(elapsed),
    loglik = loglik,
    treated = unname(beta[["treated"]]),
    treated_se = unname(se[["treated"]]),
    sd_cluster = unname(sd),
    messages = messages
  )
}

time_glmer <- function(f, d) {
  msgs <- character(0)
  t <- system.time(m <- withCallingHandlers(
    glmer(f, data = d, family = binomial, nAGQ = 1),
    warning = function(w) {
      msgs <<- c(msgs, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  ))[["elapsed"]]
  msgs <- c(msgs, m@optinfo$conv$lme4$messages)
  fit_summary(t, as.numeric(logLik(m)), fixef(m), sqrt(diag(as.matrix(vcov(m)))),
              attr(VarCorr(m)$cluster, "stddev")[[1]], as.list(msgs))
}

time_glmmtmb <- function(f, d) {
  t <- system.time(m <- glmmTMB(f, data = d, family = binomial))[["elapsed"]]
  beta <- fixef(m)$cond
  se <- sqrt(diag(vcov(m)$cond))
  fit_summary(t, as.numeric(logLik(m)), beta, se,
              attr(VarCorr(m)$cond$cluster, "stddev")[[1]],
              as.list(if (m$fit$convergence == 0) character(0) else m$fit$message))
}

results <- list()
for (case in cases) {
  d <- read.csv(file.path(data_dir, case$file))
  f <- as.formula(case$formula)
  cat(sprintf("%s: %d rows, %s\n", case$id, nrow(d), case$formula))
  g <- time_glmer(f, d)
  cat(sprintf("  glmer   %8.2f s  loglik %.6f  treated %.8f\n", g$elapsed_seconds, g$loglik, g$treated))
  tm <- time_glmmtmb(f, d)
  cat(sprintf("  glmmTMB %8.2f s  loglik %.6f  treated %.8f\n", tm$elapsed_seconds, tm$loglik, tm$treated))
  results[[case$id]] <- list(rows = nrow(d), formula = case$formula, glmer = g, glmmTMB = tm)
}

out <- list(
  description = paste(
    "Elapsed seconds of glmer (nAGQ = 1, default control) and glmmTMB (Laplace) on the data",
    "of benches/glmm_fit.rs, written by glmm_bench_timing.R"),
  r_version = R.version.string,
  packages = list(lme4 = as.character(packageVersion("lme4")),
                  glmmTMB = as.character(packageVersion("glmmTMB"))),
  machine = list(cores = parallel::detectCores(), blas = extSoftVersion()[["BLAS"]]),
  cases = results
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
