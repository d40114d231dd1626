# GLMM timing benchmark (NOT run by the tests, writes nothing into the repo).
#
# Run from this directory:
#   cd tests/reference && Rscript glmm_timing.R
#
# Simulates two stepped-wedge cohorts, writes them as CSV under /tmp, reads
# them back and prints the elapsed seconds (system.time) of
#   - lme4::glmer, nAGQ = 1 (Laplace), default control,
#   - lme4::glmer, nAGQ = 1, control = glmerControl(optimizer = "bobyqa"),
#   - glmmTMB::glmmTMB (Laplace), default control,
# for death30 ~ treated + factor(period) + age + sex + residence + (1 | cluster).
#
#   large: 100,000 patients, 50 clusters x 12 periods, ~10% events
#   small:   2,609 patients, 12 clusters x  8 periods, ~10% events

suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
})

out_dir <- Sys.getenv("GLMM_TIMING_DIR", "/tmp")
residence_levels <- c("own_home", "nursing_home", "temporary", "rehab_24h")

simulate_cohort <- function(n_patients, k, T, seed) {
  set.seed(seed)
  clusters <- sprintf("C%02d", seq_len(k))
  # stepped wedge: k clusters in T - 1 roughly equal groups, crossing over in
  # periods 2..T, randomised order
  step_of <- ceiling(seq_len(k) * (T - 1) / k)
  cross <- (1L + as.integer(step_of))[sample.int(k)]
  u <- rnorm(k, 0, 0.4)                      # latent ICC ~ 0.046
  pe <- round(0.2 * (seq_len(T) - 1) / (T - 1), 4)
  # patients spread over the k x T cluster-periods, at least 1 each
  cp_n <- 1L + as.vector(rmultinom(1, n_patients - k * T, rep(1, k * T)))
  cp <- expand.grid(period = seq_len(T), ci = seq_len(k))
  rows <- cp[rep(seq_len(nrow(cp)), cp_n), ]
  n <- nrow(rows)
  stopifnot(n == n_patients)
  d <- data.frame(
    cluster = clusters[rows$ci],
    period = rows$period,
    treated = as.integer(rows$period >= cross[rows$ci]),
    age = round(rnorm(n, 84, 7), 1),
    sex = ifelse(runif(n) < 0.7, "F", "M"),
    residence = sample(residence_levels, n, replace = TRUE,
                       prob = c(0.55, 0.25, 0.10, 0.10))
  )
  res_eff <- c(own_home = 0, nursing_home = 0.5, temporary = 0.3, rehab_24h = 0.2)
  eta <- -2.55 + pe[d$period] - 0.25 * d$treated + 0.04 * (d$age - 85) +
    0.35 * (d$sex == "M") + res_eff[d$residence] + u[rows$ci]
  d$death30 <- rbinom(n, 1, plogis(eta))
  d
}

fml <- death30 ~ treated + factor(period) + age + sex + residence + (1 | cluster)

time_fits <- function(label, path) {
  d <- read.csv(path)
  cat(sprintf("\n== %s: %s (%d rows, %d clusters, %d periods, event rate %.4f)\n",
              label, path, nrow(d), length(unique(d$cluster)),
              length(unique(d$period)), mean(d$death30)))
  report <- function(name, expr) {
    warn <- character(0)
    t <- system.time(fit <- withCallingHandlers(expr, warning = function(w) {
      warn <<- c(warn, conditionMessage(w))
      invokeRestart("muffleWarning")
    }, message = function(m) invokeRestart("muffleMessage")))[["elapsed"]]
    if (inherits(fit, "glmmTMB")) {
      ll <- as.numeric(logLik(fit)); b <- fixef(fit)$cond[["treated"]]
      sd <- attr(VarCorr(fit)$cond$cluster, "stddev")[[1]]
    } else {
      ll <- as.numeric(logLik(fit)); b <- fixef(fit)[["treated"]]
      sd <- getME(fit, "theta")[[1]]
    }
    cat(sprintf("%-34s elapsed %8.2f s   logLik %.6f   treated %.6f   sd %.6f\n",
                name, t, ll, b, sd))
    if (length(warn)) cat("   warnings:", paste(unique(warn), collapse = " | "), "\n")
    invisible(t)
  }
  report("glmer nAGQ=1 (default control)",
         glmer(fml, data = d, family = binomial, nAGQ = 1))
  report("glmer nAGQ=1 (bobyqa)",
         glmer(fml, data = d, family = binomial, nAGQ = 1,
               control = glmerControl(optimizer = "bobyqa")))
  report("glmmTMB (Laplace, default)",
         glmmTMB(fml, data = d, family = binomial))
}

cat(R.version.string, "\n")
cat("lme4", as.character(packageVersion("lme4")),
    " glmmTMB", as.character(packageVersion("glmmTMB")),
    " TMB", as.character(packageVersion("TMB")),
    " Matrix", as.character(packageVersion("Matrix")), "\n")

large_path <- file.path(out_dir, "glmm_timing_100k.csv")
small_path <- file.path(out_dir, "glmm_timing_2609.csv")
write.csv(simulate_cohort(100000L, 50L, 12L, seed = 20240918L), large_path,
          row.names = FALSE)
write.csv(simulate_cohort(2609L, 12L, 8L, seed = 20240919L), small_path,
          row.names = FALSE)

time_fits("small", small_path)
time_fits("large", large_path)
