#!/usr/bin/env Rscript
## funnel_case_mix.R -- reference values for the case-mix-adjusted funnel plot
##
##   cd tests/reference/monitor && nice -n 19 Rscript funnel_case_mix.R
##
## Writes funnel_case_mix.json beside this script. Base R (stats) and jsonlite only; numbers
## are written exactly with ../json_helpers.R.
##
## Data: data-samples/stepped_wedge_sim.csv (id, cluster, period, treated, age, sex,
## residence, death30, cost), 2,611 patients in 12 clusters. Three cases:
##   complete: the clusters, every patient;
##   missing:  the clusters, with age blanked where id %% 50 == 0, death30 where
##             id %% 71 == 0 and cluster where id %% 113 == 0 (those 111 patients, 11 of them
##             deaths, are excluded and counted);
##   periods:  the 8 periods as the units (a numeric unit column; the period effects make
##             them overdispersed: phi > 1, tau2 > 0), every patient.
##
## Per case: glm(death30 ~ age + sex + residence, binomial) on all units pooled (no unit
## term), epsilon 1e-14 and then polished (refitted from its own estimate until the
## coefficients move by at most 1e-14 relative). For each unit i (sorted labels):
##   n_i patients used, O_i events, E_i = sum of fitted risks, ratio O_i / E_i,
##   Garwood exact 95% interval  qchisq(.025, 2 O) / (2 E) (0 if O = 0), qchisq(.975, 2 O + 2) / (2 E)
##   Byar 95% interval           O (1 - 1/(9 O) - z/(3 sqrt O))^3 / E (0 if O = 0),
##                               (O+1) (1 - 1/(9 (O+1)) + z/(3 sqrt(O+1)))^3 / E,  z = qnorm(.975)
##   risk-adjusted proportion    (O / E) * sum(O) / sum(n)
##   exact Poisson funnel limits at E with Spiegelhalter's interpolation:
##     F(r) = ppois(r, E), r_P = min{r >= 0: F(r) >= P} (direct search), F(-1) = 0,
##     a = (F(r_P) - P) / (F(r_P) - F(r_P - 1)), limit = max(0, (r_P - a) / E),
##     P = .025/.975 (95%), .001/.999 (99.8%)
##   z = (O - E) / sqrt(E) (the ratio's z with s^2 = 1/E); 10% winsorising at
##     quantile(z, c(.1, .9), type = 7); phi = mean(zw^2); I phi ~ chi^2_{I-1};
##     phi_used = max(phi, 1); tau2 = max(0, (I phi - (I - 1)) / (sum w - sum w^2 / sum w)),
##     w = E; normal 1 + z_P sqrt(1/E), multiplicative 1 + z_P sqrt(phi_used / E), additive
##     1 + z_P sqrt(1/E + tau2), each truncated below at 0;
##     z_phi = z / sqrt(phi_used), z_re = (O/E - 1) / sqrt(1/E + tau2)
##   flags: "above" if O/E > upper, "below" if O/E < lower, else "within".
## The limits are also given on a grid of E.

suppressPackageStartupMessages(library(jsonlite))

args <- commandArgs(trailingOnly = FALSE)
script_dir <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)][1])))
source(file.path(script_dir, "..", "json_helpers.R"))
data_file <- file.path(script_dir, "..", "..", "..", "data-samples", "stepped_wedge_sim.csv")
cohort <- read.csv(data_file, stringsAsFactors = FALSE)

tails <- c(l95 = 0.025, u95 = 0.975, l998 = 0.001, u998 = 0.999)

exact_poisson <- function(P, E) {
  r <- 0
  while (ppois(r, E) < P) r <- r + 1
  Fr <- ppois(r, E)
  Fm1 <- if (r == 0) 0 else ppois(r - 1, E)
  a <- (Fr - P) / (Fr - Fm1)
  c(r = r, limit = max(0, (r - a) / E))
}

limits_at <- function(E, phi_used, tau2) {
  out <- list(E = E)
  for (nm in names(tails)) {
    ex <- sapply(E, function(e) exact_poisson(tails[[nm]], e))
    out[[paste0("exact_", nm)]] <- ex["limit", ]
    out[[paste0("exact_r_", nm)]] <- as.integer(ex["r", ])
  }
  for (nm in names(tails)) {
    z <- qnorm(tails[[nm]])
    out[[paste0("normal_", nm)]] <- pmax(0, 1 + z * sqrt(1 / E))
    out[[paste0("phi_", nm)]] <- pmax(0, 1 + z * sqrt(phi_used / E))
    out[[paste0("re_", nm)]] <- pmax(0, 1 + z * sqrt(1 / E + tau2))
  }
  out
}

# a list of numeric (exact JSON) and integer vectors
jlist <- function(l) lapply(l, function(v) if (is.integer(v)) v else jvec(v))

polished_glm <- function(data) {
  ctrl <- glm.control(epsilon = 1e-14, maxit = 200)
  fit <- glm(death30 ~ age + sex + residence, family = binomial, data = data, control = ctrl)
  for (k in 1:20) {
    refit <- glm(death30 ~ age + sex + residence, family = binomial, data = data,
                 control = ctrl, start = coef(fit))
    moved <- max(abs(coef(refit) - coef(fit)) / (abs(coef(fit)) + 1e-300))
    fit <- refit
    if (moved <= 1e-14) break
  }
  stopifnot(fit$converged)
  fit
}

case_mix <- function(name, description, data, unit) {
  complete <- complete.cases(data[, c(unit, "death30", "age", "sex", "residence")])
  used <- data[complete, ]
  fit <- polished_glm(used)
  risk <- fitted(fit)
  cl <- sort(unique(used[[unit]]))
  by_unit <- factor(used[[unit]], levels = cl)
  n <- as.numeric(table(by_unit))
  O <- as.numeric(tapply(used$death30, by_unit, sum))
  E <- as.numeric(tapply(risk, by_unit, sum))
  I <- length(cl)
  ratio <- O / E
  overall <- sum(O) / sum(n)
  zq <- qnorm(0.975)
  garwood_l <- ifelse(O == 0, 0, qchisq(0.025, 2 * O) / (2 * E))
  garwood_u <- qchisq(0.975, 2 * O + 2) / (2 * E)
  byar_l <- ifelse(O == 0, 0, O * (1 - 1 / (9 * O) - zq / (3 * sqrt(O)))^3 / E)
  byar_u <- (O + 1) * (1 - 1 / (9 * (O + 1)) + zq / (3 * sqrt(O + 1)))^3 / E
  z <- (O - E) / sqrt(E)
  q <- quantile(z, c(0.1, 0.9), type = 7, names = FALSE)
  zw <- pmin(pmax(z, q[1]), q[2])
  phi <- sum(zw^2) / I
  phi_used <- max(phi, 1)
  w <- E
  tau2 <- max(0, (I * phi - (I - 1)) / (sum(w) - sum(w^2) / sum(w)))
  at <- limits_at(E, phi_used, tau2)
  flag <- function(kind, level) {
    lo <- at[[paste0(kind, "_l", level)]]; hi <- at[[paste0(kind, "_u", level)]]
    ifelse(ratio > hi, "above", ifelse(ratio < lo, "below", "within"))
  }
  missing_by <- sapply(c("death30", "age", "sex", "residence", unit),
                       function(v) sum(is.na(data[[v]])))
  list(
    name = name, description = description, unit = unit,
    formula = "death30 ~ age + sex + residence",
    rows_in = nrow(data), rows_used = nrow(used), excluded = nrow(data) - nrow(used),
    missing_by_variable = as.list(missing_by[missing_by > 0]),
    coefficients = list(terms = jstr(names(coef(fit))), estimate = jvec(unname(coef(fit))),
                        se = jvec(unname(sqrt(diag(vcov(fit)))))),
    deviance = jnum(deviance(fit)),
    units = list(
      unit = jstr(as.character(cl)), n = jvec(n), O = jvec(O), E = jvec(E), ratio = jvec(ratio),
      risk_adjusted = jvec(ratio * overall),
      garwood_lower = jvec(garwood_l), garwood_upper = jvec(garwood_u),
      byar_lower = jvec(byar_l), byar_upper = jvec(byar_u),
      z = jvec(z), z_winsorised = jvec(zw), z_phi = jvec(z / sqrt(phi_used)),
      z_re = jvec((ratio - 1) / sqrt(1 / E + tau2)),
      flag_exact95 = jstr(flag("exact", "95")), flag_exact998 = jstr(flag("exact", "998")),
      flag_phi95 = jstr(flag("phi", "95")), flag_phi998 = jstr(flag("phi", "998")),
      flag_re95 = jstr(flag("re", "95")), flag_re998 = jstr(flag("re", "998"))),
    overall_proportion = jnum(overall),
    overdispersion = list(winsor_q10 = jnum(q[1]), winsor_q90 = jnum(q[2]), phi = jnum(phi),
                          phi_used = jnum(phi_used), I = I, test_statistic = jnum(I * phi),
                          p_value = jnum(pchisq(I * phi, I - 1, lower.tail = FALSE)),
                          tau2 = jnum(tau2), tau = jnum(sqrt(tau2))),
    limits_at_unit_E = jlist(at),
    limits_grid = jlist(limits_at(c(0.25, 0.5, 1, 2.5, seq(5, 100, by = 5), 150.7),
                                  phi_used, tau2)))
}

with_missing <- cohort
with_missing$age[with_missing$id %% 50 == 0] <- NA
with_missing$death30[with_missing$id %% 71 == 0] <- NA
with_missing$cluster[with_missing$id %% 113 == 0] <- NA

out <- list(
  description = paste(
    "Case-mix-adjusted funnel of 30-day mortality across the clusters (and periods) of",
    "data-samples/stepped_wedge_sim.csv: glm(death30 ~ age + sex + residence, binomial)",
    "pooled over units, E = sum of fitted risks per unit, O/E against E with exact",
    "Poisson limits (Spiegelhalter 2005 interpolation), Garwood and Byar intervals,",
    "winsorised phi and tau2 on the ratio scale (z = (O - E)/sqrt(E), w = E).",
    "See the header of funnel_case_mix.R."),
  source = paste("R", getRversion(), "base glm; funnel_case_mix.R"),
  cases = list(
    case_mix("complete", "clusters, every patient", cohort, "cluster"),
    case_mix("missing",
             "clusters; age missing where id %% 50 == 0, death30 where id %% 71 == 0, cluster where id %% 113 == 0",
             with_missing, "cluster"),
    case_mix("periods", "periods as units, every patient", cohort, "period")))

write_reference_json(out, file.path(script_dir, "funnel_case_mix.json"))
for (cs in out$cases) {
  u <- cs$units
  cat(sprintf("%-9s used %d of %d; flags 95: %s\n", cs$name, cs$rows_used, cs$rows_in,
              paste(unclass(u$flag_exact95), collapse = ",")))
}
