#!/usr/bin/env Rscript
# How long lme4 takes to analyse the simulated trials of benches/simulation_power.rs: the
# KTH-size stepped wedge of kth_size.json (12 clusters in 7 waves, 8 periods, 2,609 patients,
# mortality 11.9% vs 8.0%, latent icc 0.02), its first 50 simulated trials as written by
#   cargo run --release --example swpower -- --case kth_size.json --simulate 50 --seed 2609 \
#       --no-null --write-trials trials.csv
# (columns trial, cluster, period, treated, events, trials: one row per cluster-period), each
# analysed by the Hussey & Hughes model
#   glmer(cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster),
#         family = binomial)        (Laplace, lme4's default control)
# with the Wald z test of `treated` at 0.05, as stepwedge's Analysis::Glmm.
#
# The loop of 50 fits is timed 3 times; the median loop is extrapolated to the bench's 1,000
# trials. The estimates, standard errors and singular flags of the first loop are written too,
# so that tests/power_simulation.rs compares stepwedge's fits of the same trials with glmer's.
# After the timing (not timed): the standard error of `treated` from the curvature of its
# profile log-likelihood, sqrt(delta^2 / (2 (l_max - mean(l_p(b -/+ delta))))) with delta =
# 0.02, each profile point a glmer fit with `treated` as an offset (bobyqa, rhoend 1e-12):
# glmer's own standard errors come from a finite-difference Hessian of its deviance function,
# which on these count data is about 0.3-0.5% smaller than the profile's curvature.
# Writes glmer_timing.json. Run from this directory:  nice -n 19 Rscript glmer_timing.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })

d <- read.csv("trials.csv")
d$cluster <- factor(d$cluster)
trials <- split(d, d$trial)
stopifnot(length(trials) == 50)
fit_one <- function(t) {
  m <- suppressMessages(suppressWarnings(
    glmer(cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster),
          data = t, family = binomial)))
  cf <- summary(m)$coefficients
  c(estimate = cf["treated", "Estimate"], std_error = cf["treated", "Std. Error"],
    singular = as.numeric(isSingular(m)))
}
loop <- function() {
  t0 <- proc.time()[[3]]
  res <- t(vapply(trials, fit_one, numeric(3)))
  list(seconds = proc.time()[[3]] - t0, fits = res)
}
loops <- lapply(1:3, function(r) loop())
secs <- sapply(loops, `[[`, "seconds")
fits <- loops[[1]]$fits
z <- fits[, "estimate"] / fits[, "std_error"]
TIGHT <- glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
profile_se <- vapply(trials, function(t) {
  fit <- function(formula, data) suppressMessages(suppressWarnings(
    glmer(formula, data = data, family = binomial, control = TIGHT)))
  m <- fit(cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster), t)
  b <- fixef(m)[["treated"]]; delta <- 0.02
  lp <- vapply(c(-delta, delta), function(dd) {
    t$off <- (b + dd) * t$treated
    as.numeric(logLik(fit(cbind(events, trials - events) ~ offset(off) + factor(period) + (1 | cluster), t)))
  }, numeric(1))
  sqrt(delta^2 / (2 * (as.numeric(logLik(m)) - mean(lp))))
}, numeric(1))
out <- list(
  data = "trials.csv", case = "kth_size.json", n_trials = length(trials),
  patients_per_trial = unname(sapply(trials, function(t) sum(t$trials))),
  model = "glmer(cbind(events, trials - events) ~ treated + factor(period) + (1 | cluster), family = binomial, nAGQ = 1)",
  method = "3 timed loops of 50 fits (trials 1..50); median loop, times 1000 / 50",
  source = paste("lme4", packageVersion("lme4"), "glmer; R", getRversion()),
  cpu = tryCatch(trimws(sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1])),
                 error = function(e) NA_character_),
  loop_seconds = secs, median_loop_seconds = median(secs),
  seconds_per_fit = median(secs) / 50,
  extrapolated_1000_seconds = median(secs) * 1000 / 50,
  estimates = unname(fits[, "estimate"]), std_errors = unname(fits[, "std_error"]),
  singular = unname(fits[, "singular"] == 1),
  profile_std_errors = unname(profile_se),
  profile_method = "sqrt(delta^2 / (2 (l_max - mean(l_p(b - delta), l_p(b + delta))))), delta = 0.02, glmer with bobyqa rhoend 1e-12",
  rejected_at_0.05 = sum(abs(z) > qnorm(0.975)))
cat(sprintf("median loop of 50: %.2f s; per fit %.1f ms; 1,000 trials: %.1f s; %d of 50 rejected\n",
            median(secs), 1000 * median(secs) / 50, median(secs) * 1000 / 50, out$rejected_at_0.05))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "glmer_timing.json")
