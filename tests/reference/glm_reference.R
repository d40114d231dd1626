# GLM reference values for the stepwedge crate.
#
# Run from this directory:
#   cd tests/reference && Rscript glm_reference.R
#
# (a) simulates two small stepped-wedge data sets (set.seed) and writes them
#     to data/glm_binary.csv and data/glm_counts.csv;
# (b) reads the CSV files back and fits every case on the data as read, then
#     writes glm_reference.json (model-based, HC and cluster-robust vcovs).

suppressPackageStartupMessages({
  library(stats)
  library(sandwich)
  library(clubSandwich)
  library(jsonlite)
})
source("json_helpers.R")

options(digits = 15)
dir.create("data", showWarnings = FALSE)

# ---------------------------------------------------------------------------
# (a) simulation
# ---------------------------------------------------------------------------
set.seed(20240611)

n_clusters <- 12L
n_periods <- 6L
cluster_ids <- sprintf("C%02d", seq_len(n_clusters))
# stepped wedge: cluster k starts treatment in period ceiling(k/2) + 1;
# clusters 11 and 12 would start in period 7, i.e. they stay control, so
# period 1 is all control and periods 2..6 have both arms.
switch_period <- ceiling(seq_len(n_clusters) / 2) + 1

cp <- expand.grid(period = seq_len(n_periods), k = seq_len(n_clusters))
cp <- cp[, c("k", "period")]
cp$treated <- as.integer(cp$period >= switch_period[cp$k])
cp$n <- sample(9:13, nrow(cp), replace = TRUE)

u_death <- rnorm(n_clusters, 0, 0.4)   # cluster random intercept (logit scale)
u_readm <- rnorm(n_clusters, 0, 0.1)   # small cluster effect (log scale)
u_cost <- rnorm(n_clusters, 0, 0.08)
period_eff <- c(0, 0.05, 0.10, 0.05, 0.15, 0.10)

rows <- cp[rep(seq_len(nrow(cp)), cp$n), c("k", "period", "treated")]
n <- nrow(rows)
rows$cluster <- cluster_ids[rows$k]
rows$age <- round(rnorm(n, 84, 7), 1)
rows$sex <- ifelse(runif(n) < 0.7, "F", "M")
rows$own_home <- rbinom(n, 1, 0.55)
rows$w <- sample(1:3, n, replace = TRUE)

eta_death <- -2.15 - 0.35 * rows$treated + period_eff[rows$period] +
  0.04 * (rows$age - 84) + 0.35 * (rows$sex == "M") + u_death[rows$k]
rows$death30 <- rbinom(n, 1, plogis(eta_death))

# log-linear risk model with small risks -> interior log-binomial MLE
risk_readm <- exp(log(0.15) - 0.25 * rows$treated + 0.012 * (rows$age - 84) +
                    0.10 * rows$own_home + u_readm[rows$k])
stopifnot(max(risk_readm) < 0.5)
rows$readm30 <- rbinom(n, 1, risk_readm)

rows$cost <- round(exp(log(50000) + 0.06 * rows$treated + 0.004 * (rows$age - 84) +
                         0.05 * (rows$sex == "M") + u_cost[rows$k] +
                         rnorm(n, 0, 0.3)), 2)
rows$agecopy <- 2 * rows$age   # exactly aliased with age (doubling is exact)

binary <- rows[, c("cluster", "period", "treated", "age", "sex", "own_home",
                   "w", "death30", "readm30", "cost", "agecopy")]
rownames(binary) <- NULL
write.csv(binary, "data/glm_binary.csv", row.names = FALSE)

# aggregated counts: one row per cluster x period (each cluster-period has a
# single treatment arm in a stepped wedge)
counts <- data.frame(cluster = cluster_ids[cp$k], period = cp$period,
                     treated = cp$treated)
u_ev <- rnorm(n_clusters, 0, 0.3)
u_ct <- rnorm(n_clusters, 0, 0.2)
counts$trials <- sample(5:40, nrow(counts), replace = TRUE)
counts$events <- rbinom(nrow(counts), counts$trials,
                        plogis(-1.4 - 0.3 * counts$treated +
                                 period_eff[counts$period] + u_ev[cp$k]))
counts$persontime <- round(runif(nrow(counts), 40, 250), 2)
counts$count <- rpois(nrow(counts), counts$persontime *
                        exp(-3 - 0.2 * counts$treated +
                              period_eff[counts$period] + u_ct[cp$k]))
counts <- counts[, c("cluster", "period", "treated", "events", "trials",
                     "count", "persontime")]
write.csv(counts, "data/glm_counts.csv", row.names = FALSE)

# ---------------------------------------------------------------------------
# (b) fits, on the data exactly as read back from the CSV files
# ---------------------------------------------------------------------------
datasets <- list(
  "data/glm_binary.csv" = read.csv("data/glm_binary.csv"),
  "data/glm_counts.csv" = read.csv("data/glm_counts.csv")
)
stopifnot(all(datasets[["data/glm_binary.csv"]]$agecopy ==
                2 * datasets[["data/glm_binary.csv"]]$age))

max_abs_diff <- function(a, b) {
  if (is.null(a) || is.null(b)) return(NA_real_)
  max(abs(a - b))
}
# max abs difference, and the same relative to the largest |entry| of a
cmp <- function(a, b) {
  m <- max_abs_diff(a, b)
  list(max_abs_diff = jnum(m),
       max_rel_diff = jnum(if (is.na(m)) NA_real_ else m / max(abs(a))))
}

fit_case <- function(name, data_path, formula, family, link,
                     weights = NULL, start = NULL, epsilon = 1e-14) {
  d <- datasets[[data_path]]
  notes <- character(0)
  f <- as.formula(formula, env = environment())
  fam <- str2lang(sprintf('%s(link = "%s")', family, link))
  wsym <- if (is.null(weights)) NULL else as.name(weights)
  do_fit <- function(st) {
    eval(bquote(glm(.(f), family = .(fam), data = d, weights = .(wsym),
                    start = .(st),
                    control = glm.control(epsilon = .(epsilon), maxit = 200))))
  }
  fit0 <- do_fit(start)
  if (!fit0$converged) notes <- c(notes, "glm did not report convergence")
  # Polishing: glm.fit stores the IRLS working weights (and the QR used by
  # vcov/summary) from the start of its last iteration, i.e. evaluated at the
  # previous iterate. Refitting from the converged coefficients until they no
  # longer move makes every weight-based quantity (vcov, sandwich matrices)
  # correspond to the MLE itself, to machine precision.
  fit <- fit0
  n_polish <- 0L
  repeat {
    st <- coef(fit)
    st[is.na(st)] <- 0
    fit_new <- do_fit(unname(st))
    delta <- max(abs(coef(fit_new) - coef(fit)), na.rm = TRUE)
    fit <- fit_new
    n_polish <- n_polish + 1L
    if (delta <= 1e-14 * max(1, abs(coef(fit)), na.rm = TRUE) || n_polish >= 50L) break
  }
  if (!fit$converged) notes <- c(notes, "polished glm did not report convergence")
  if (!identical(is.na(coef(fit)), is.na(coef(fit0))))
    notes <- c(notes, "aliasing pattern changed during polishing")

  cf_all <- coef(fit)
  aliased <- names(cf_all)[is.na(cf_all)]
  terms <- names(cf_all)[!is.na(cf_all)]
  sm <- summary(fit)
  sc <- sm$coefficients
  stopifnot(identical(rownames(sc), terms))
  ci <- confint.default(fit)[terms, , drop = FALSE]

  safe <- function(label, expr) {
    out <- tryCatch(expr, error = function(e) {
      notes <<- c(notes, sprintf("%s failed: %s", label, conditionMessage(e)))
      NULL
    })
    if (is.null(out)) return(NULL)
    m <- as.matrix(unclass(out))
    m <- matrix(as.numeric(m), nrow(m), ncol(m), dimnames = dimnames(m))
    if (!identical(rownames(m), terms) || !identical(colnames(m), terms)) {
      if (all(terms %in% rownames(m)) && all(terms %in% colnames(m))) {
        m <- m[terms, terms, drop = FALSE]
      } else {
        notes <<- c(notes, sprintf("%s: dimnames do not match terms", label))
      }
    }
    m
  }
  cl <- d$cluster
  V <- list(
    model = safe("model", vcov(fit, complete = FALSE)),
    HC0 = safe("HC0", vcovHC(fit, type = "HC0")),
    HC1 = safe("HC1", vcovHC(fit, type = "HC1")),
    CR0 = safe("CR0", vcovCL(fit, cluster = ~cluster, type = "HC0", cadjust = TRUE)),
    CR1 = safe("CR1", vcovCL(fit, cluster = ~cluster, type = "HC1", cadjust = TRUE)),
    CR2 = safe("CR2", vcovCR(fit, cluster = cl, type = "CR2")),
    CR2_sandwich = safe("CR2_sandwich",
                        vcovCL(fit, cluster = ~cluster, type = "HC2", cadjust = FALSE)),
    CR3 = safe("CR3", vcovCR(fit, cluster = cl, type = "CR3")),
    CR3_sandwich = safe("CR3_sandwich",
                        vcovCL(fit, cluster = ~cluster, type = "HC3", cadjust = FALSE)),
    CR2_sandwich_cadjust = safe("CR2_sandwich_cadjust",
                        vcovCL(fit, cluster = ~cluster, type = "HC2", cadjust = TRUE)),
    CR3_sandwich_cadjust = safe("CR3_sandwich_cadjust",
                        vcovCL(fit, cluster = ~cluster, type = "HC3", cadjust = TRUE))
  )
  # cross-checks between the two packages (not reference values themselves)
  cs_cr0 <- safe("clubSandwich CR0", vcovCR(fit, cluster = cl, type = "CR0"))
  sw_hc0_noadj <- safe("sandwich HC0 cadjust=FALSE",
                       vcovCL(fit, cluster = ~cluster, type = "HC0", cadjust = FALSE))
  crosscheck <- list(
    CR2_vs_CR2_sandwich = cmp(V$CR2, V$CR2_sandwich),
    CR2_vs_CR2_sandwich_cadjust = cmp(V$CR2, V$CR2_sandwich_cadjust),
    CR3_vs_CR3_sandwich = cmp(V$CR3, V$CR3_sandwich),
    CR3_vs_CR3_sandwich_cadjust = cmp(V$CR3, V$CR3_sandwich_cadjust),
    clubSandwich_CR0_vs_sandwich_HC0_noadjust = cmp(cs_cr0, sw_hc0_noadj)
  )

  ll <- logLik(fit)
  coef_rows <- lapply(terms, function(t) list(
    term = t,
    estimate = jnum(sc[t, 1]),
    std_error = jnum(sc[t, 2]),
    statistic = jnum(sc[t, 3]),
    p_value = jnum(sc[t, 4])
  ))
  ci_rows <- lapply(terms, function(t) list(
    term = t, low = jnum(ci[t, 1]), high = jnum(ci[t, 2])
  ))
  vcov_json <- lapply(V, function(m) if (is.null(m)) NA else jmat(m))

  list(
    result = list(
      name = name,
      data = data_path,
      formula = formula,
      family = family,
      link = link,
      weights = if (is.null(weights)) NA else weights,
      cluster = "cluster",
      start = if (is.null(start)) NA else jvec(start),
      terms = jstr(terms),
      all_terms = jstr(names(cf_all)),
      aliased = jstr(aliased),
      statistic_type = if (grepl("^z", colnames(sc)[3])) "z" else "t",
      coefficients = coef_rows,
      confint_wald = ci_rows,
      loglik = jnum(as.numeric(ll)),
      loglik_df = jnum(as.integer(attr(ll, "df"))),
      deviance = jnum(fit$deviance),
      null_deviance = jnum(fit$null.deviance),
      aic = jnum(fit$aic),
      df_residual = jnum(as.integer(fit$df.residual)),
      df_null = jnum(as.integer(fit$df.null)),
      dispersion = jnum(sm$dispersion),
      control_epsilon = jnum(epsilon),
      iter = jnum(as.integer(fit0$iter)),
      converged = fit$converged,
      polish_refits = jnum(n_polish),
      polish_last_max_coef_change = jnum(delta),
      n_obs = jnum(as.integer(nobs(fit))),
      n_clusters = jnum(length(unique(cl))),
      fitted_max = jnum(max(fitted(fit))),
      fitted_min = jnum(min(fitted(fit))),
      vcov = vcov_json,
      crosscheck = crosscheck,
      notes = jstr(notes)
    ),
    V = V, cs_cr0 = cs_cr0, sw_hc0_noadj = sw_hc0_noadj, fit = fit
  )
}

B <- "data/glm_binary.csv"
C <- "data/glm_counts.csv"
yb <- datasets[[B]]

case_specs <- list(
  list("binomial_logit", B, "death30 ~ treated + factor(period) + age + sex",
       "binomial", "logit"),
  list("binomial_logit_interaction", B, "death30 ~ treated * own_home + age",
       "binomial", "logit"),
  list("binomial_logit_weights", B, "death30 ~ treated + age + sex",
       "binomial", "logit", weights = "w"),
  list("binomial_logit_noint", B, "death30 ~ 0 + sex + treated",
       "binomial", "logit"),
  list("binomial_log", B, "readm30 ~ treated + age + own_home",
       "binomial", "log", start = c(log(mean(yb$readm30)), 0, 0, 0)),
  list("binomial_cloglog", B, "death30 ~ treated + factor(period)",
       "binomial", "cloglog"),
  list("binomial_identity", B, "readm30 ~ treated + own_home",
       "binomial", "identity", start = c(mean(yb$readm30), 0, 0)),
  list("binomial_cbind", C, "cbind(events, trials - events) ~ treated + factor(period)",
       "binomial", "logit"),
  list("poisson_offset", C, "count ~ treated + factor(period) + offset(log(persontime))",
       "poisson", "log"),
  list("modified_poisson", B, "death30 ~ treated + age + sex", "poisson", "log"),
  list("gaussian", B, "cost ~ treated + factor(period) + age + sex",
       "gaussian", "identity"),
  # epsilon = 1e-10 here: glm.fit uses min(1e-7, epsilon/1000) as the QR
  # rank tolerance, and with epsilon = 1e-14 (tolerance 1e-17) the exact
  # collinearity is NOT detected (rounding noise), the fit does not converge.
  list("binomial_aliased", B, "death30 ~ treated + age + agecopy",
       "binomial", "logit", epsilon = 1e-10),
  list("binomial_factor_interaction", B, "death30 ~ treated + sex + treated:sex",
       "binomial", "logit"),
  list("binomial_interaction_only", B, "death30 ~ age + treated:sex",
       "binomial", "logit")
)

fits <- lapply(case_specs, function(s) do.call(fit_case, s))
names(fits) <- vapply(case_specs, `[[`, "", 1)

# case-specific notes
add_note <- function(case, txt) {
  fits[[case]]$result$notes <<- jstr(c(fits[[case]]$result$notes, txt))
}
fmt_diff <- function(x) formatC(x, format = "e", digits = 3)

# prior weights: compare the two packages on the weighted fit, and on a
# weighted gaussian fit (where, unweighted, CR2/CR3 of both packages agree)
fw <- fits[["binomial_logit_weights"]]
rel_diff <- function(a, b) max(abs(as.matrix(a) - as.matrix(b))) / max(abs(as.matrix(a)))
gw <- glm(cost ~ treated + age + sex, family = gaussian, data = yb, weights = w)
gw_cr2 <- rel_diff(vcovCR(gw, cluster = yb$cluster, type = "CR2"),
                   vcovCL(gw, cluster = ~cluster, type = "HC2", cadjust = TRUE))
gw_cr0 <- rel_diff(vcovCR(gw, cluster = yb$cluster, type = "CR0"),
                   vcovCL(gw, cluster = ~cluster, type = "HC0", cadjust = FALSE))
add_note("binomial_logit_weights", paste0(
  "prior weights: the plain cluster sandwich treats them the same in both ",
  "packages (clubSandwich CR0 vs sandwich vcovCL(HC0, cadjust=FALSE): max abs diff ",
  fmt_diff(max_abs_diff(fw$cs_cr0, fw$sw_hc0_noadj)), "). The small-sample ",
  "adjustments do not: CR2 vs sandwich HC2 (cadjust=FALSE) max abs diff ",
  fmt_diff(max_abs_diff(fw$V$CR2, fw$V$CR2_sandwich)), ", vs HC2 (cadjust=TRUE) ",
  fmt_diff(max_abs_diff(fw$V$CR2, fw$V$CR2_sandwich_cadjust)),
  "; CR3 vs HC3 (cadjust=FALSE) ", fmt_diff(max_abs_diff(fw$V$CR3, fw$V$CR3_sandwich)),
  " (largest |CR2 entry| ", fmt_diff(max(abs(fw$V$CR2))), "). Even for a ",
  "gaussian glm cost ~ treated + age + sex with weights = w, clubSandwich CR2 ",
  "differs from sandwich HC2 (cadjust=TRUE) by a max relative diff of ",
  fmt_diff(gw_cr2), " (CR0: ", fmt_diff(gw_cr0), "), whereas unweighted ",
  "gaussian fits agree to rounding: clubSandwich (vcovCR.glm defaults) builds ",
  "the CR2/CR3 adjustment from the target variance v(mu)/prior weight, while ",
  "sandwich uses (I - H_gg)^(-1/2) resp. (I - H_gg)^(-1) with the non-symmetric ",
  "H = X (X'WX)^-1 X'W, W = working weights (incl. prior weights)."))
fa <- fits[["binomial_aliased"]]
fr <- glm(death30 ~ treated + age, family = binomial, data = yb,
          control = glm.control(epsilon = 1e-14, maxit = 200))
fr <- glm(death30 ~ treated + age, family = binomial, data = yb, start = coef(fr),
          control = glm.control(epsilon = 1e-14, maxit = 200))
fits[["binomial_aliased"]]$result$crosscheck$reduced_model_coef_max_abs_diff <-
  jnum(max(abs(coef(fa$fit)[c("(Intercept)", "treated", "age")] - coef(fr))))
fits[["binomial_aliased"]]$result$crosscheck$reduced_model_vcov_max_abs_diff <-
  jnum(max(abs(fa$V$model - vcov(fr))))
add_note("binomial_aliased", paste(
  "fitted with glm.control(epsilon = 1e-10): glm.fit's QR rank tolerance is",
  "min(1e-7, epsilon/1000); with epsilon = 1e-14 (tolerance 1e-17) R does not",
  "detect the exact collinearity and the fit fails to converge in 200 iterations.",
  "Polishing refits bring the estimates to the MLE of death30 ~ treated + age",
  "(see crosscheck.reduced_model_*)."))
add_note("binomial_aliased",
         "agecopy = 2*age is exactly collinear; R reports NA for it; all arrays and vcov matrices cover the non-aliased terms only (see 'terms'); 'all_terms' is names(coef(fit)).")
add_note("binomial_interaction_only",
         "sex appears only inside treated:sex, so R codes the factor with indicator (dummy) columns for every level in that term.")
add_note("binomial_identity",
         "fitted with start values (mean(readm30), 0, 0); fit succeeded.")
add_note("binomial_log",
         "fitted with start values (log(mean(readm30)), 0, 0, 0); fitted_max < 1 so the MLE is interior.")

out <- list(
  description = paste(
    "Reference values for GLM fits and sandwich / cluster-robust covariance",
    "matrices, generated by glm_reference.R. glm.control(epsilon = 1e-14,",
    "maxit = 200), then polished (see vcov_remarks). Matrices are arrays of rows; row/column order = 'terms'."),
  r_version = R.version.string,
  packages = list(
    sandwich = as.character(packageVersion("sandwich")),
    clubSandwich = as.character(packageVersion("clubSandwich")),
    stats = as.character(packageVersion("stats")),
    jsonlite = as.character(packageVersion("jsonlite"))
  ),
  vcov_definitions = list(
    model = "vcov(fit)",
    HC0 = "sandwich::vcovHC(fit, type = \"HC0\")",
    HC1 = "sandwich::vcovHC(fit, type = \"HC1\")",
    CR0 = "sandwich::vcovCL(fit, cluster = ~cluster, type = \"HC0\", cadjust = TRUE)",
    CR1 = "sandwich::vcovCL(fit, cluster = ~cluster, type = \"HC1\", cadjust = TRUE)",
    CR2 = "clubSandwich::vcovCR(fit, cluster = data$cluster, type = \"CR2\")",
    CR2_sandwich = "sandwich::vcovCL(fit, cluster = ~cluster, type = \"HC2\", cadjust = FALSE)",
    CR3 = "clubSandwich::vcovCR(fit, cluster = data$cluster, type = \"CR3\")",
    CR3_sandwich = "sandwich::vcovCL(fit, cluster = ~cluster, type = \"HC3\", cadjust = FALSE)",
    CR2_sandwich_cadjust = "sandwich::vcovCL(fit, cluster = ~cluster, type = \"HC2\", cadjust = TRUE)",
    CR3_sandwich_cadjust = "sandwich::vcovCL(fit, cluster = ~cluster, type = \"HC3\", cadjust = TRUE)"
  ),
  vcov_remarks = jstr(c(
    paste("sandwich's clustered HC2/HC3 always multiply the meat by (G-1)/G;",
          "cadjust = TRUE multiplies by G/(G-1), cancelling it. Hence",
          "CR2_sandwich = (G-1)/G * CR2_sandwich_cadjust, and for the gaussian",
          "(identity) case CR2_sandwich_cadjust equals clubSandwich CR2 and",
          "CR3_sandwich_cadjust equals clubSandwich CR3. For non-identity GLMs the",
          "two packages use different adjustment matrices (see crosscheck)."),
    paste("All fits are polished: refitted from the converged coefficients so",
          "that the IRLS weights behind vcov() correspond to the MLE; 'iter' is",
          "the iteration count of the first (unpolished) fit.")
  )),
  cases = unname(lapply(fits, `[[`, "result"))
)

write_reference_json(out, "glm_reference.json")
cat("wrote glm_reference.json with", length(out$cases), "cases\n")
