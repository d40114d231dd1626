# GLMM reference values for the stepwedge crate (mixed-model part).
#
# Run from this directory:
#   cd tests/reference && Rscript glmm_reference.R
#
# (a) simulates a grid of stepped-wedge / staggered-rollout data sets
#     (Hussey & Hughes model, set.seed per case) and writes each one to
#     data/glmm/<case id>.csv: patient rows (cluster, period, treated, age,
#     sex, death30), or collapsed cluster-period rows (binomial counts
#     events/trials, or Poisson count/persontime);
# (b) reads every CSV back and fits the models on the data exactly as read:
#     lme4::glmer (Laplace, and nAGQ = 25 for scalar random intercepts) and
#     glmmTMB (Laplace), plus profile / Wald intervals and likelihood-ratio
#     tests for selected cases;
# (c) writes glmm_reference.json (deterministic, byte-identical on rerun) and
#     glmm_reference_timings.json (elapsed seconds per fit; NOT deterministic).

suppressPackageStartupMessages({
  library(stats)
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})
source("json_helpers.R")

options(digits = 15)
dir.create(file.path("data", "glmm"), recursive = TRUE, showWarnings = FALSE)

MASTER_SEED <- 20240917L
AGE_CENTRE <- 85

# ---------------------------------------------------------------------------
# Case grid
# ---------------------------------------------------------------------------
icc_to_sd <- function(icc) sqrt(icc * (pi^2 / 3) / (1 - icc))

spec <- function(id, k, T, m = NA, rate, icc = NA, sigma_u = NA,
                 covariates = FALSE, storage = "individual", re = "ri",
                 sigma_v = 0, n_never = 0L, family = "binomial",
                 link = "logit", b_trt = -0.3, slope_sd = 0, slope_corr = 0,
                 profile = FALSE, lrt = FALSE, require_singular = FALSE) {
  if (is.na(sigma_u)) sigma_u <- icc_to_sd(icc)
  list(id = id, k = as.integer(k), T = as.integer(T), m = m, rate = rate,
       icc = icc, sigma_u = sigma_u, covariates = covariates,
       storage = storage, re = re, sigma_v = sigma_v,
       n_never = as.integer(n_never), family = family, link = link,
       b_trt = b_trt, slope_sd = slope_sd, slope_corr = slope_corr,
       profile = profile, lrt = lrt, require_singular = require_singular)
}

specs <- list(
  # logistic random-intercept cases ------------------------------------------
  spec("ri01", 4, 5, 40, 0.10, 0.05, covariates = TRUE),
  spec("ri02", 4, 5, 60, 0.30, 0.10, profile = TRUE),
  spec("ri03", 6, 4, 50, 0.20, 0.05, covariates = TRUE),
  spec("ri04", 6, 7, 30, 0.05, 0.01, covariates = TRUE, sigma_v = 0.3, lrt = TRUE),
  spec("ri05", 8, 5, 40, 0.10, 0.10, covariates = TRUE, profile = TRUE),
  spec("ri06", 8, 9, 20, 0.40, 0.05, storage = "collapsed"),
  spec("ri07", 12, 5, 30, 0.10, 0.05, covariates = TRUE, profile = TRUE),
  spec("ri08", 12, 7, 25, 0.02, 0.10, covariates = TRUE),
  spec("ri09", 12, 4, 40, 0.25, 0.01, storage = "collapsed", sigma_v = 0.2),
  spec("ri10", 12, 6, 30, 0.15, 0.05, covariates = TRUE, n_never = 4),
  spec("ri11", 20, 5, 25, 0.08, 0.05, covariates = TRUE, profile = TRUE),
  spec("ri12", 20, 6, 20, 0.35, 0.10, sigma_v = 0.25),
  spec("ri13", 20, 11, 60, 0.03, 0.01, storage = "collapsed", lrt = TRUE),
  spec("ri14", 40, 5, 12, 0.12, 0.05, covariates = TRUE, profile = TRUE),
  spec("ri15", 40, 9, 50, 0.20, 0.10, storage = "collapsed", sigma_v = 0.3),
  spec("ri16", 60, 7, 6, 0.10, 0.05, covariates = TRUE, profile = TRUE, lrt = TRUE),
  spec("ri17", 60, 4, 80, 0.04, 0.01, storage = "collapsed"),
  spec("ri18", 20, 8, 15, 0.10, 0.10, covariates = TRUE, n_never = 6, profile = TRUE),
  spec("ri19", 8, 6, 40, 0.06, 0.05, storage = "collapsed", n_never = 2),
  spec("ri20", 6, 4, 100, 0.10, 0.05, covariates = TRUE, sigma_v = 0.3),
  # true ICC 0; the data are redrawn until the fitted cluster SD is exactly 0
  spec("ri_singular01", 8, 5, 50, 0.15, 0, covariates = TRUE,
       require_singular = TRUE),
  spec("ri_singular02", 12, 4, 40, 0.30, 0, storage = "collapsed",
       require_singular = TRUE),
  # cluster + cluster-period random intercepts --------------------------------
  spec("nested01", 6, 4, 60, 0.15, 0.05, covariates = TRUE, re = "nested",
       sigma_v = 0.3),
  spec("nested02", 12, 5, 40, 0.25, 0.10, re = "nested", sigma_v = 0.4,
       lrt = TRUE),
  spec("nested03", 20, 6, 50, 0.10, 0.05, storage = "collapsed", re = "nested",
       sigma_v = 0.25),
  spec("nested04", 40, 5, 30, 0.05, 0.01, storage = "collapsed", re = "nested",
       sigma_v = 0.3, n_never = 10),
  # random treatment slopes ----------------------------------------------------
  spec("slope01", 12, 5, 40, 0.20, 0.10, covariates = TRUE, re = "slope",
       slope_sd = 0.3, slope_corr = -0.3),
  spec("slope02", 20, 6, 60, 0.15, 0.05, storage = "collapsed", re = "slope",
       slope_sd = 0.4, slope_corr = 0),
  spec("slope03", 40, 5, 40, 0.30, 0.10, storage = "collapsed", re = "slope",
       slope_sd = 0.25, slope_corr = 0.5, n_never = 8),
  # Poisson counts with person-time offset (rate per person-year) -------------
  spec("poisson01", 12, 6, rate = 0.25, sigma_u = 0.3, storage = "poisson",
       family = "poisson", link = "log", b_trt = -0.2),
  spec("poisson02", 40, 5, rate = 0.10, sigma_u = 0.2, storage = "poisson",
       family = "poisson", link = "log", b_trt = -0.2, sigma_v = 0.1,
       n_never = 10),
  # other binomial links --------------------------------------------------------
  spec("cloglog01", 20, 5, 25, 0.10, sigma_u = icc_to_sd(0.05),
       covariates = TRUE, link = "cloglog"),
  spec("loglink01", 12, 5, 40, 0.05, sigma_u = 0.3, covariates = TRUE,
       link = "log", b_trt = -0.25)
)
names(specs) <- vapply(specs, `[[`, "", "id")
stopifnot(!anyDuplicated(names(specs)))

# ---------------------------------------------------------------------------
# (a) simulation
# ---------------------------------------------------------------------------
linkinv <- function(eta, link) {
  switch(link,
         logit = plogis(eta),
         cloglog = -expm1(-exp(eta)),
         log = exp(eta),
         stop("unknown link"))
}
linkfun <- function(p, link) {
  switch(link, logit = qlogis(p), cloglog = log(-log1p(-p)), log = log(p),
         stop("unknown link"))
}

# crossover period per cluster (NA = never switches). Switching clusters are
# split into T - 1 roughly equal groups crossing over in periods 2..T; the
# assignment of clusters to sequences is randomised.
crossover_periods <- function(k, T, n_never) {
  k_sw <- k - n_never
  steps <- T - 1L
  step_of <- ceiling(seq_len(k_sw) * steps / k_sw)
  cross <- c(1L + as.integer(step_of), rep(NA_integer_, n_never))
  cross[sample.int(k)]
}

period_effects <- function(T) {
  t <- seq_len(T)
  round(0.25 * (t - 1) / (T - 1) + 0.08 * sin(1.7 * (t - 1)), 4)
}

simulate_case <- function(s) {
  k <- s$k
  T <- s$T
  clusters <- sprintf("C%02d", seq_len(k))
  cross <- crossover_periods(k, T, s$n_never)
  pe <- period_effects(T)
  b0 <- if (s$family == "poisson") log(s$rate) else linkfun(s$rate, s$link)
  b_age <- if (!s$covariates) 0 else if (s$link == "log") 0.02 else 0.04
  b_male <- if (!s$covariates) 0 else if (s$link == "log") 0.2 else 0.35
  # cluster effects: (intercept, treatment slope)
  u0 <- rnorm(k) * s$sigma_u
  u1 <- rep(0, k)
  if (s$re == "slope") {
    z <- rnorm(k)
    u1 <- s$slope_sd * (s$slope_corr * u0 / s$sigma_u +
                          sqrt(1 - s$slope_corr^2) * z)
  }
  cp <- expand.grid(period = seq_len(T), ci = seq_len(k))
  cp$cluster <- clusters[cp$ci]
  cp$treated <- as.integer(!is.na(cross[cp$ci]) & cp$period >= cross[cp$ci])
  cp$v <- rnorm(nrow(cp)) * s$sigma_v
  cp$eta <- b0 + pe[cp$period] + s$b_trt * cp$treated + u0[cp$ci] +
    u1[cp$ci] * cp$treated + cp$v
  if (s$storage == "poisson") {
    cp$persontime <- round(runif(nrow(cp), 20, 120), 2)
    cp$count <- rpois(nrow(cp), cp$persontime * exp(cp$eta))
    out <- cp[, c("cluster", "period", "treated", "count", "persontime")]
  } else {
    lo <- max(1L, round(0.6 * s$m))
    hi <- round(1.4 * s$m)
    cp$n <- sample(lo:hi, nrow(cp), replace = TRUE)
    if (s$storage == "collapsed") {
      stopifnot(!s$covariates)
      p <- linkinv(cp$eta, s$link)
      stopifnot(all(p < 1))
      cp$trials <- cp$n
      cp$events <- rbinom(nrow(cp), cp$n, p)
      out <- cp[, c("cluster", "period", "treated", "events", "trials")]
    } else {
      rows <- cp[rep(seq_len(nrow(cp)), cp$n), c("cluster", "period", "treated", "eta")]
      n <- nrow(rows)
      rows$age <- round(rnorm(n, 84, 7), 1)
      rows$sex <- ifelse(runif(n) < 0.7, "F", "M")
      eta <- rows$eta + b_age * (rows$age - AGE_CENTRE) + b_male * (rows$sex == "M")
      p <- linkinv(eta, s$link)
      stopifnot(all(p < 1))
      rows$death30 <- rbinom(n, 1, p)
      out <- rows[, c("cluster", "period", "treated", "age", "sex", "death30")]
      stopifnot(nrow(out) <= 3000)
    }
  }
  rownames(out) <- NULL
  truth <- list(
    family = s$family, link = s$link,
    design = if (s$n_never > 0) "staggered" else "stepped_wedge",
    n_clusters = k, n_periods = T, n_never_switch = s$n_never,
    crossover_period = setNames(as.list(cross), clusters),
    mean_patients_per_cluster_period = if (is.na(s$m)) NA else s$m,
    target_event_rate = s$rate,
    b0 = b0, period_effects = pe, b_trt = s$b_trt,
    covariates = s$covariates, b_age = b_age, b_male = b_male,
    age_centre = AGE_CENTRE,
    sigma_u = s$sigma_u,
    icc_latent = if (s$link == "logit") s$sigma_u^2 / (s$sigma_u^2 + pi^2 / 3) else NA,
    sigma_v = s$sigma_v,
    slope_sd = s$slope_sd, slope_corr = s$slope_corr,
    cluster_effects = u0, slope_effects = if (s$re == "slope") u1 else NULL
  )
  list(data = out, truth = truth)
}

# ---------------------------------------------------------------------------
# Formulas
# ---------------------------------------------------------------------------
response_of <- function(s) {
  switch(s$storage, individual = "death30",
         collapsed = "cbind(events, trials - events)", poisson = "count")
}
fixed_rhs <- function(s, with_treated = TRUE) {
  terms <- c(if (with_treated) "treated", "factor(period)",
             if (s$covariates) c("age", "sex"),
             if (s$storage == "poisson") "offset(log(persontime))")
  paste(terms, collapse = " + ")
}
random_part <- function(s) {
  switch(s$re,
         ri = "(1 | cluster)",
         nested = "(1 | cluster) + (1 | cluster:period)",
         slope = "(1 + treated | cluster)")
}
formula_of <- function(s, with_treated = TRUE) {
  paste(response_of(s), "~", fixed_rhs(s, with_treated), "+", random_part(s))
}

# ---------------------------------------------------------------------------
# Fitting helpers
# ---------------------------------------------------------------------------
# evaluate expr, collecting warnings and messages instead of printing them
capture <- function(expr) {
  w <- character(0)
  m <- character(0)
  val <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "fit_error")),
    warning = function(c) {
      w <<- c(w, conditionMessage(c))
      invokeRestart("muffleWarning")
    },
    message = function(c) {
      m <<- c(m, sub("\n$", "", conditionMessage(c)))
      invokeRestart("muffleMessage")
    })
  list(value = val, warnings = w, messages = m,
       error = if (inherits(val, "fit_error")) as.character(unclass(val)) else NULL)
}

timings <- list()
timed <- function(case_id, label, expr) {
  t <- system.time(res <- capture(expr))[["elapsed"]]
  timings[[case_id]][[label]] <<- t
  res
}

TIGHT_CONTROL_TXT <- 'glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))'
POLISH_CONTROL_TXT <- paste0(
  'glmerControl(optimizer = "nloptwrap", optCtrl = list(algorithm = "NLOPT_LN_BOBYQA", ',
  'xtol_abs = 1e-12, ftol_abs = 1e-12, xtol_rel = 0, ftol_rel = 0, maxeval = 1e5), ',
  'nAGQ0initStep = FALSE, tolPwrss = 1e-12), start = list(theta = <previous theta>, ',
  'fixef = <previous fixef>)')
tight_control <- function() {
  glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5))
}
POLISH_FALLBACK_CONTROL_TXT <- paste0(
  'glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhobeg = 1e-3, ',
  'rhoend = 1e-12), nAGQ0initStep = FALSE, tolPwrss = 1e-12), start = list(theta = ',
  '<previous theta>, fixef = <previous fixef>)')
polish_control_fallback <- function() {
  glmerControl(optimizer = "bobyqa",
               optCtrl = list(maxfun = 1e5, rhobeg = 1e-3, rhoend = 1e-12),
               nAGQ0initStep = FALSE, tolPwrss = 1e-12)
}
polish_control <- function() {
  glmerControl(optimizer = "nloptwrap",
               optCtrl = list(algorithm = "NLOPT_LN_BOBYQA", xtol_abs = 1e-12,
                              ftol_abs = 1e-12, xtol_rel = 0, ftol_rel = 0,
                              maxeval = 1e5),
               nAGQ0initStep = FALSE, tolPwrss = 1e-12)
}

run_glmer <- function(fml, d, family, nAGQ, control = NULL, start = NULL) {
  f <- as.formula(fml)
  environment(f) <- globalenv()
  if (is.null(control)) {
    if (is.null(start)) glmer(f, data = d, family = family, nAGQ = nAGQ)
    else glmer(f, data = d, family = family, nAGQ = nAGQ, start = start)
  } else {
    if (is.null(start)) glmer(f, data = d, family = family, nAGQ = nAGQ, control = control)
    else glmer(f, data = d, family = family, nAGQ = nAGQ, control = control, start = start)
  }
}

num_or_na <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else as.numeric(x)

named_num_list <- function(x) {
  out <- lapply(as.numeric(x), jnum)
  names(out) <- names(x)
  out
}

# random-effect SDs / correlations from VarCorr-like list (lme4 or glmmTMB)
re_table <- function(vc) {
  sds <- list()
  cors <- list()
  for (g in names(vc)) {
    sd <- attr(vc[[g]], "stddev")
    for (t in names(sd)) sds[[length(sds) + 1]] <- list(group = g, term = t, sd = jnum(sd[[t]]))
    cm <- attr(vc[[g]], "correlation")
    if (length(sd) > 1) {
      for (i in 1:(length(sd) - 1)) for (j in (i + 1):length(sd)) {
        cors[[length(cors) + 1]] <- list(group = g, term1 = names(sd)[i],
                                         term2 = names(sd)[j],
                                         correlation = jnum(cm[i, j]))
      }
    }
  }
  list(sds = sds, cors = cors,
       sd_vec = unlist(lapply(names(vc), function(g) {
         sd <- attr(vc[[g]], "stddev"); setNames(as.numeric(sd), paste(g, names(sd)))
       })))
}

link_of <- function(fam) fam$link

# Independent log-likelihood checks for scalar random-intercept models.
# For each cluster j, with h_j(z) = sum_i log f(y_i | eta_i + sigma z) +
# log phi(z) (all normalising constants included: log choose(trials, events),
# -log(count!)):
#   numerical_integration: log of integral exp(h_j(z)) dz by adaptive
#     integrate() (rel.tol 1e-12) after centring at the mode and scaling by the
#     curvature;
#   laplace_observed_information: h_j(zhat) + log(2 pi)/2 - log(-h_j''(zhat))/2
#     (exact second derivative; this is what glmmTMB/TMB computes);
#   laplace_expected_information: the same with -h_j'' replaced by
#     1 + sigma^2 sum_i w_i, w_i = prior weight * mu'(eta)^2 / V(mu) (the
#     IRLS/Fisher weights used by lme4's PIRLS). Identical to the observed
#     version for canonical links (logit, Poisson log).
ri_structure <- function(fit) {
  fam <- family(fit)
  y <- fit@resp$y
  w <- fit@resp$weights
  list(X = getME(fit, "X"), offset = fit@resp$offset,
       g = getME(fit, "flist")[[1]], family = fam$family, link = fam$link,
       k = if (fam$family == "binomial") round(y * w) else y,
       n = if (fam$family == "binomial") round(w) else rep(NA_real_, length(y)))
}

# log f, d/deta log f, d2/deta2 log f, Fisher weight, elementwise
cond_terms <- function(eta, k, n, family, link) {
  if (family == "poisson") {
    mu <- exp(eta)
    return(list(ll = dpois(k, mu, log = TRUE), d1 = k - mu, d2 = -mu, w = mu))
  }
  if (link == "logit") {
    mu <- plogis(eta); m1 <- mu * (1 - mu); m2 <- m1 * (1 - 2 * mu)
  } else if (link == "log") {
    mu <- exp(eta); m1 <- mu; m2 <- mu
  } else if (link == "cloglog") {
    ee <- exp(eta); mu <- -expm1(-ee); m1 <- ee * (1 - mu); m2 <- m1 * (1 - ee)
  } else stop("link not handled")
  bad <- mu >= 1 | mu <= 0
  mu[bad] <- 0.5
  ll <- dbinom(k, n, mu, log = TRUE)
  a <- k / mu - (n - k) / (1 - mu)
  b <- k / mu^2 + (n - k) / (1 - mu)^2
  out <- list(ll = ll, d1 = a * m1, d2 = a * m2 - b * m1^2,
              w = n * m1^2 / (mu * (1 - mu)))
  out$ll[bad] <- -Inf
  out
}

ri_loglik_checks <- function(st, beta, sigma) {
  eta_fix <- as.vector(st$X %*% beta) + st$offset
  res <- c(numerical_integration = 0, laplace_observed_information = 0,
           laplace_expected_information = 0)
  saturated <- if (st$family == "poisson") sum(dpois(st$k, st$k, log = TRUE)) else
    sum(dbinom(st$k, st$n, st$k / st$n, log = TRUE))
  for (lev in levels(st$g)) {
    idx <- which(st$g == lev)
    e0 <- eta_fix[idx]
    k <- st$k[idx]
    n <- st$n[idx]
    ct <- function(z) cond_terms(e0 + sigma * z, k, n, st$family, st$link)
    h <- function(z) sum(ct(z)$ll) + dnorm(z, log = TRUE)
    if (sigma == 0) {
      res <- res + sum(ct(0)$ll)
      next
    }
    zhat <- optimize(h, c(-40, 40), maximum = TRUE, tol = 1e-12)$maximum
    for (it in 1:20) {  # Newton polish of the mode
      tt <- ct(zhat)
      step <- (sigma * sum(tt$d1) - zhat) / (1 - sigma^2 * sum(tt$d2))
      zhat <- zhat + step
      if (abs(step) < 1e-14 * max(1, abs(zhat))) break
    }
    tt <- ct(zhat)
    hmax <- sum(tt$ll) + dnorm(zhat, log = TRUE)
    H_obs <- 1 - sigma^2 * sum(tt$d2)
    H_exp <- 1 + sigma^2 * sum(tt$w)
    sc <- 1 / sqrt(H_obs)
    integrand <- function(t) vapply(t, function(u) exp(h(zhat + sc * u) - hmax), 0)
    I <- integrate(integrand, -Inf, Inf, rel.tol = 1e-12, abs.tol = 0,
                   subdivisions = 1000L)$value
    res <- res + c(hmax + log(sc) + log(I),
                   hmax + 0.5 * log(2 * pi) - 0.5 * log(H_obs),
                   hmax + 0.5 * log(2 * pi) - 0.5 * log(H_exp))
  }
  c(lapply(as.list(res), jnum), list(loglik_saturated = jnum(saturated)))
}

# conditional modes of the cluster factor with conditional SDs
cond_modes <- function(fit) {
  re <- ranef(fit, condVar = TRUE)
  if (!"cluster" %in% names(re)) return(NULL)
  r <- re[["cluster"]]
  pv <- attr(r, "postVar")
  terms <- lapply(seq_len(ncol(r)), function(j) {
    list(term = colnames(r)[j], mode = jvec(r[[j]]),
         cond_sd = jvec(sqrt(pv[j, j, ])))
  })
  list(group = "cluster", levels = jstr(rownames(r)), terms = terms)
}

conv_info <- function(fit, cap) {
  oi <- fit@optinfo
  list(
    lme4_messages = jstr(unlist(oi$conv$lme4$messages)),
    optimizer = oi$optimizer,
    optimizer_code = jnum(as.integer(num_or_na(oi$conv$opt))),
    optimizer_message = if (is.null(oi$message)) NA else oi$message,
    optimizer_warnings = jstr(unlist(oi$warnings)),
    r_warnings = jstr(cap$warnings),
    r_messages = jstr(cap$messages),
    max_abs_gradient = jnum(num_or_na(max(abs(oi$derivs$gradient)))),
    n_function_evaluations = jnum(as.integer(oi$feval))
  )
}

# Fit one glmer model: default control, tight bobyqa, then polishing refits.
fit_lme4 <- function(case_id, label, fml, d, family, nAGQ, data_path,
                     collapsed, start = NULL, scalar_ri = FALSE) {
  key <- label
  notes <- character(0)
  # 1. default control (recorded for comparison only)
  cap0 <- timed(case_id, paste0(key, "_default"),
                run_glmer(fml, d, family, nAGQ, start = start))
  if (!is.null(cap0$error) && is.null(start)) {
    notes <- c(notes, paste("default fit without start failed:", cap0$error))
  }
  default_info <- if (is.null(cap0$error)) {
    f0 <- cap0$value
    list(control = "glmer default control",
         optimizer = f0@optinfo$optimizer,
         loglik = jnum(as.numeric(logLik(f0))),
         fixef = named_num_list(fixef(f0)),
         theta = named_num_list(getME(f0, "theta")),
         n_function_evaluations = jnum(as.integer(f0@optinfo$feval)),
         lme4_messages = jstr(unlist(f0@optinfo$conv$lme4$messages)),
         r_warnings = jstr(cap0$warnings), r_messages = jstr(cap0$messages))
  } else list(control = "glmer default control", error = cap0$error)

  # 2. tight bobyqa
  capA <- timed(case_id, paste0(key, "_tight"),
                run_glmer(fml, d, family, nAGQ, control = tight_control(), start = start))
  if (!is.null(capA$error)) {
    return(list(json = list(package = "lme4", label = label, nAGQ = nAGQ,
                            formula = fml, error = capA$error,
                            default_control_fit = default_info,
                            notes = jstr(notes)),
                fit = NULL))
  }
  stages <- list(list(stage = "tight", control = TIGHT_CONTROL_TXT,
                      fit = capA$value, cap = capA))
  # 3. polish until the log-likelihood stops improving. Polishing uses
  # nloptwrap (BOBYQA, xtol_abs = ftol_abs = 1e-12) with tolPwrss = 1e-12; if
  # that errors (e.g. the binomial log link, where a large first step gives
  # mu > 1 and PIRLS returns NaN) a bobyqa polish with a small initial trust
  # region (rhobeg = 1e-3) is used instead.
  prev <- capA$value
  for (i in 1:6) {
    st <- list(theta = getME(prev, "theta"), fixef = fixef(prev))
    capP <- timed(case_id, paste0(key, "_polish", i),
                  run_glmer(fml, d, family, nAGQ, control = polish_control(), start = st))
    ctl_txt <- POLISH_CONTROL_TXT
    if (!is.null(capP$error)) {
      notes <- c(notes, paste0("polish ", i, " with nloptwrap failed (", capP$error,
                               "); used the bobyqa fallback polish"))
      capP <- timed(case_id, paste0(key, "_polish", i, "_fallback"),
                    run_glmer(fml, d, family, nAGQ, control = polish_control_fallback(),
                              start = st))
      ctl_txt <- POLISH_FALLBACK_CONTROL_TXT
    }
    if (!is.null(capP$error)) {
      notes <- c(notes, paste0("polish ", i, " failed: ", capP$error))
      break
    }
    stages[[length(stages) + 1]] <- list(stage = paste0("polish", i),
                                         control = ctl_txt,
                                         fit = capP$value, cap = capP)
    ll_new <- as.numeric(logLik(capP$value))
    if (i > 1 && ll_new - as.numeric(logLik(prev)) < 1e-10) break
    prev <- capP$value
  }
  # Selection: the first polish stage whose loglik is within 1e-10 of the
  # best polish loglik. The tight stage (PIRLS tolerance 1e-7, so its loglik
  # is only good to ~1e-6) is eligible only if it put a variance parameter
  # exactly on the boundary (theta = 0), so that singular fits report SD 0.
  lls <- vapply(stages, function(s) as.numeric(logLik(s$fit)), 0)
  eligible <- seq_along(stages) > 1 |
    vapply(stages, function(s) any(getME(s$fit, "theta") == 0), TRUE)
  if (!any(eligible[-1])) eligible[1] <- TRUE
  best_ll <- max(lls[eligible])
  best <- stages[[which(eligible & lls >= best_ll - 1e-10)[1]]]
  fit <- best$fit
  capB <- best$cap

  vc_cap <- capture(vcov(fit))
  vc_nh_cap <- capture(vcov(fit, use.hessian = FALSE))
  se <- sqrt(diag(as.matrix(vc_cap$value)))
  se_nh <- sqrt(diag(as.matrix(vc_nh_cap$value)))
  fe <- fixef(fit)
  coefs <- lapply(names(fe), function(t) list(
    term = t, estimate = jnum(fe[[t]]), std_error = jnum(se[[t]]),
    std_error_nohessian = jnum(se_nh[[t]])))
  ret <- re_table(VarCorr(fit))
  ll <- logLik(fit)
  fam <- family(fit)
  th <- getME(fit, "theta")

  res <- list(
    package = "lme4",
    label = label,
    fitting_function = "glmer",
    nAGQ = nAGQ,
    formula = fml,
    family = fam$family,
    link = fam$link,
    data = data_path,
    collapsed = collapsed,
    start = if (is.null(start)) NA else list(fixef = jvec(start$fixef),
                                              theta = jvec(start$theta)),
    n_obs = as.integer(nobs(fit)),
    n_groups = as.list(setNames(as.integer(ngrps(fit)), names(ngrps(fit)))),
    selected_stage = best$stage,
    coefficients = coefs,
    random_effects = ret$sds,
    correlations = ret$cors,
    theta = named_num_list(th),
    loglik = jnum(as.numeric(ll)),
    loglik_df = as.integer(attr(ll, "df")),
    minus2loglik = jnum(-2 * as.numeric(ll)),
    deviance = jnum(deviance(fit)),
    aic = jnum(AIC(fit)),
    bic = jnum(BIC(fit)),
    is_singular = isSingular(fit),
    convergence = conv_info(fit, capB),
    vcov_warnings = jstr(c(vc_cap$warnings, vc_nh_cap$warnings)),
    n_function_evaluations_all_stages = as.integer(sum(vapply(stages, function(s) as.numeric(s$fit@optinfo$feval), 0))),
    stages = lapply(stages, function(s) list(
      stage = s$stage, control = s$control,
      optimizer = s$fit@optinfo$optimizer,
      loglik = jnum(as.numeric(logLik(s$fit))),
      theta = jvec(unname(getME(s$fit, "theta"))),
      fixef = jvec(unname(fixef(s$fit))),
      n_function_evaluations = jnum(as.integer(s$fit@optinfo$feval)),
      max_abs_gradient = jnum(num_or_na(max(abs(s$fit@optinfo$derivs$gradient)))),
      optimizer_message = if (is.null(s$fit@optinfo$message)) NA else s$fit@optinfo$message,
      lme4_messages = jstr(unlist(s$fit@optinfo$conv$lme4$messages)),
      r_warnings = jstr(s$cap$warnings))),
    default_control_fit = default_info,
    conditional_modes = cond_modes(fit),
    icc_latent = if (scalar_ri && fam$link == "logit") {
      s2 <- th[[1]]^2
      jnum(s2 / (s2 + pi^2 / 3))
    } else NA,
    loglik_checks = if (scalar_ri) ri_loglik_checks(ri_structure(fit), fixef(fit), th[[1]]) else NA,
    notes = jstr(notes)
  )
  list(json = res, fit = fit, se = se, se_nh = se_nh, sd = ret$sd_vec)
}

fit_tmb <- function(case_id, fml, d, family, data_path, collapsed, scalar_ri,
                    start_beta = NULL, ri_st = NULL) {
  f <- as.formula(fml)
  environment(f) <- globalenv()
  notes <- character(0)
  cap <- timed(case_id, "glmmTMB_laplace", glmmTMB(f, data = d, family = family))
  used_start <- NULL
  if (!is.null(cap$error) && !is.null(start_beta)) {
    notes <- c(notes, paste("fit without start failed:", cap$error))
    used_start <- start_beta
    cap <- timed(case_id, "glmmTMB_laplace_start",
                 glmmTMB(f, data = d, family = family,
                         start = list(beta = start_beta)))
  }
  if (!is.null(cap$error)) {
    return(list(json = list(package = "glmmTMB", label = "glmmTMB_laplace",
                            formula = fml, error = cap$error, notes = jstr(notes)),
                fit = NULL))
  }
  g <- cap$value
  fe <- fixef(g)$cond
  vc_cap <- capture(vcov(g)$cond)
  se <- sqrt(diag(as.matrix(vc_cap$value)))
  ret <- re_table(VarCorr(g)$cond)
  ll <- logLik(g)
  fam <- family(g)
  flist <- g$modelInfo$reTrms$cond$flist
  sd1 <- ret$sd_vec[[1]]
  res <- list(
    package = "glmmTMB",
    label = "glmmTMB_laplace",
    fitting_function = "glmmTMB",
    approximation = "Laplace",
    formula = fml,
    family = fam$family,
    link = fam$link,
    data = data_path,
    collapsed = collapsed,
    start = if (is.null(used_start)) NA else list(beta = jvec(used_start)),
    n_obs = as.integer(nobs(g)),
    n_groups = as.list(setNames(vapply(flist, nlevels, 0L), names(flist))),
    coefficients = lapply(names(fe), function(t) list(
      term = t, estimate = jnum(fe[[t]]), std_error = jnum(se[[t]]))),
    random_effects = ret$sds,
    correlations = ret$cors,
    loglik = jnum(as.numeric(ll)),
    loglik_df = as.integer(attr(ll, "df")),
    minus2loglik = jnum(-2 * as.numeric(ll)),
    aic = jnum(AIC(g)),
    bic = jnum(BIC(g)),
    convergence = list(
      code = as.integer(g$fit$convergence),
      message = g$fit$message,
      pdHess = g$sdr$pdHess,
      iterations = as.integer(g$fit$iterations),
      n_function_evaluations = as.integer(g$fit$evaluations[["function"]]),
      n_gradient_evaluations = as.integer(g$fit$evaluations[["gradient"]]),
      max_abs_gradient = jnum(max(abs(g$sdr$gradient.fixed))),
      r_warnings = jstr(c(cap$warnings, vc_cap$warnings)),
      r_messages = jstr(cap$messages)),
    icc_latent = if (scalar_ri && fam$link == "logit") jnum(sd1^2 / (sd1^2 + pi^2 / 3)) else NA,
    loglik_checks = if (scalar_ri && !is.null(ri_st)) {
      ri_loglik_checks(ri_st, fe[colnames(ri_st$X)], sd1)
    } else NA,
    notes = jstr(notes)
  )
  list(json = res, fit = g, se = se, sd = ret$sd_vec)
}

# ---------------------------------------------------------------------------
# Simulate and write all data sets
# ---------------------------------------------------------------------------
truths <- list()
for (i in seq_along(specs)) {
  s <- specs[[i]]
  set.seed(MASTER_SEED + i)
  attempt <- 0L
  repeat {
    attempt <- attempt + 1L
    sim <- simulate_case(s)
    if (!s$require_singular) break
    # keep redrawing (same RNG stream) until the tight fit's cluster SD is 0
    chk <- capture(run_glmer(formula_of(s), sim$data,
                             binomial(link = s$link), 1L,
                             control = tight_control()))
    if (is.null(chk$error) && getME(chk$value, "theta")[[1]] == 0) break
    stopifnot(attempt < 100L)
  }
  sim$truth$seed <- MASTER_SEED + i
  sim$truth$simulation_attempts <- attempt
  path <- file.path("data", "glmm", paste0(s$id, ".csv"))
  write.csv(sim$data, path, row.names = FALSE)
  truths[[s$id]] <- sim$truth
}

# ---------------------------------------------------------------------------
# (b) fits, on the data exactly as read back
# ---------------------------------------------------------------------------
# max |a - b| over the entries of a, matched by name
max_abs <- function(a, b) {
  if (is.null(a) || is.null(b) || length(a) != length(b)) return(NA_real_)
  if (!is.null(names(a)) && !is.null(names(b))) {
    if (!setequal(names(a), names(b))) return(NA_real_)
    b <- b[names(a)]
  }
  max(abs(unname(a) - unname(b)))
}

fmt_truth <- function(tr, d) {
  ev <- if ("death30" %in% names(d)) mean(d$death30) else
    if ("events" %in% names(d)) sum(d$events) / sum(d$trials) else NA
  list(
    family = tr$family, link = tr$link, design = tr$design,
    n_clusters = tr$n_clusters, n_periods = tr$n_periods,
    n_never_switch = tr$n_never_switch,
    crossover_period = lapply(tr$crossover_period, function(x) if (is.na(x)) NA else x),
    mean_patients_per_cluster_period = jnum(tr$mean_patients_per_cluster_period),
    target_event_rate = jnum(tr$target_event_rate),
    realized_event_rate = jnum(ev),
    realized_rate_per_persontime = if ("count" %in% names(d)) jnum(sum(d$count) / sum(d$persontime)) else NA,
    n_patients = if ("trials" %in% names(d)) as.integer(sum(d$trials)) else
      if ("death30" %in% names(d)) nrow(d) else NA,
    b0 = jnum(tr$b0), period_effects = jvec(tr$period_effects),
    b_trt = jnum(tr$b_trt), covariates = tr$covariates,
    b_age = jnum(tr$b_age), b_male = jnum(tr$b_male), age_centre = jnum(tr$age_centre),
    sigma_u = jnum(tr$sigma_u), icc_latent = jnum(tr$icc_latent),
    sigma_v = jnum(tr$sigma_v), slope_sd = jnum(tr$slope_sd),
    slope_corr = jnum(tr$slope_corr),
    cluster_effects = jvec(tr$cluster_effects),
    slope_effects = if (is.null(tr$slope_effects)) NA else jvec(tr$slope_effects),
    seed = tr$seed, simulation_attempts = tr$simulation_attempts
  )
}

cases_out <- list()
for (s in specs) {
  cat("case", s$id, "\n")
  path <- file.path("data", "glmm", paste0(s$id, ".csv"))
  d <- read.csv(path)
  fml <- formula_of(s)
  fam <- if (s$family == "poisson") poisson(link = "log") else binomial(link = s$link)
  collapsed <- s$storage != "individual"
  scalar_ri <- s$re == "ri"
  start_beta <- NULL
  if (s$link == "log" && s$family == "binomial") {
    # start values for the log link: intercept at the log of the overall
    # event rate, all other coefficients 0 (used only if a fit fails without)
    p <- ncol(model.matrix(as.formula(paste("~", fixed_rhs(s))), d))
    start_beta <- c(log(mean(d$death30)), rep(0, p - 1))
  }
  fits <- list()
  lap <- fit_lme4(s$id, "lme4_laplace", fml, d, fam, 1L, path, collapsed,
                  scalar_ri = scalar_ri)
  if (is.null(lap$fit) && !is.null(start_beta)) {
    lap <- fit_lme4(s$id, "lme4_laplace", fml, d, fam, 1L, path, collapsed,
                    start = list(fixef = start_beta, theta = 0.1),
                    scalar_ri = scalar_ri)
  }
  fits[[length(fits) + 1]] <- lap$json
  agq <- NULL
  if (scalar_ri) {
    agq <- fit_lme4(s$id, "lme4_agq25", fml, d, fam, 25L, path, collapsed,
                    scalar_ri = scalar_ri)
    if (is.null(agq$fit) && !is.null(start_beta)) {
      agq <- fit_lme4(s$id, "lme4_agq25", fml, d, fam, 25L, path, collapsed,
                      start = list(fixef = start_beta, theta = 0.1),
                      scalar_ri = scalar_ri)
    }
    fits[[length(fits) + 1]] <- agq$json
  }
  tmb <- fit_tmb(s$id, fml, d, fam, path, collapsed, scalar_ri, start_beta,
                 ri_st = if (scalar_ri && !is.null(lap$fit)) ri_structure(lap$fit) else NULL)
  fits[[length(fits) + 1]] <- tmb$json

  case <- list(
    id = s$id,
    description = sprintf(
      "%s, %d clusters x %d periods%s, %s%s, %s%s",
      if (s$n_never > 0) "staggered rollout" else "stepped wedge",
      s$k, s$T, if (s$n_never > 0) sprintf(" (%d never switch)", s$n_never) else "",
      switch(s$storage, individual = "patient rows",
             collapsed = "collapsed binomial counts",
             poisson = "collapsed Poisson counts with person-time"),
      if (s$covariates) " with age/sex" else "",
      switch(s$re, ri = "random cluster intercept",
             nested = "cluster + cluster-period random intercepts",
             slope = "correlated random cluster intercept and treatment slope"),
      if (s$sigma_v > 0 && s$re != "nested") " (data also have a cluster-period effect)" else ""),
    data = path,
    collapsed = collapsed,
    n_rows = nrow(d),
    truth = fmt_truth(truths[[s$id]], d),
    fits = fits
  )

  # lme4 vs glmmTMB (and Laplace vs AGQ) differences
  if (!is.null(lap$fit) && !is.null(tmb$fit)) {
    case$comparison_lme4_laplace_vs_glmmTMB <- list(
      max_abs_coef_diff = jnum(max_abs(fixef(lap$fit), fixef(tmb$fit)$cond)),
      max_abs_se_diff = jnum(max_abs(lap$se, tmb$se)),
      max_abs_se_nohessian_diff = jnum(max_abs(lap$se_nh, tmb$se)),
      max_abs_sd_diff = jnum(max_abs(lap$sd, tmb$sd)),
      loglik_diff = jnum(as.numeric(logLik(lap$fit)) - as.numeric(logLik(tmb$fit))))
  }
  if (!is.null(lap$fit) && !is.null(agq$fit)) {
    case$comparison_lme4_laplace_vs_agq25 <- list(
      max_abs_coef_diff = jnum(max_abs(fixef(lap$fit), fixef(agq$fit))),
      max_abs_sd_diff = jnum(max_abs(lap$sd, agq$sd)),
      loglik_diff = jnum(as.numeric(logLik(lap$fit)) - as.numeric(logLik(agq$fit))))
  }

  # profile-likelihood and Wald intervals
  if (s$profile && !is.null(lap$fit)) {
    pc <- timed(s$id, "confint_profile",
                confint(lap$fit, parm = c(".sig01", "treated"), method = "profile"))
    wc <- capture(confint(lap$fit, method = "Wald"))
    prof <- if (is.null(pc$error)) {
      lapply(rownames(pc$value), function(p) list(
        parm = p,
        meaning = if (p == ".sig01") "SD of (Intercept) | cluster" else "fixed effect",
        lower = jnum(pc$value[p, 1]), upper = jnum(pc$value[p, 2])))
    } else NULL
    wald <- wc$value
    wald <- wald[!is.na(wald[, 1]), , drop = FALSE]
    case$confint <- list(
      fit_label = "lme4_laplace",
      level = jnum(0.95),
      profile_call = 'confint(fit, parm = c(".sig01", "treated"), method = "profile")',
      profile_parameter_names = jstr(rownames(pc$value)),
      profile = prof,
      profile_error = if (is.null(pc$error)) NA else pc$error,
      profile_warnings = jstr(pc$warnings),
      profile_messages = jstr(pc$messages),
      wald_call = 'confint(fit, method = "Wald")',
      wald = lapply(rownames(wald), function(p) list(
        parm = p, lower = jnum(wald[p, 1]), upper = jnum(wald[p, 2]))),
      wald_note = ".sig01 has no Wald interval in lme4 (NA row, omitted)"
    )
  }

  # likelihood-ratio test for treated
  if (s$lrt && !is.null(lap$fit)) {
    fml0 <- formula_of(s, with_treated = FALSE)
    nul <- fit_lme4(s$id, "lme4_laplace_null", fml0, d, fam, 1L, path, collapsed,
                    scalar_ri = FALSE)
    an <- capture(anova(nul$fit, lap$fit))
    a <- an$value
    case$lrt_treated <- list(
      call = "anova(fit_null, fit_full)",
      full_formula = fml,
      null_formula = fml0,
      npar = jvec(as.numeric(a$npar)),
      loglik = jvec(as.numeric(a$logLik)),
      deviance = jvec(as.numeric(a$deviance)),
      chisq = jnum(a$Chisq[2]),
      df = jnum(as.integer(a$Df[2])),
      p_value = jnum(a[["Pr(>Chisq)"]][2]),
      warnings = jstr(an$warnings),
      null_fit = nul$json
    )
  }
  cases_out[[length(cases_out) + 1]] <- case
}

pkgs <- c("lme4", "glmmTMB", "TMB", "Matrix", "nloptr", "minqa", "jsonlite", "stats")
out <- list(
  description = paste(
    "Reference values for GLMM fits (stepped-wedge / staggered cluster designs),",
    "generated by glmm_reference.R. Every case has its data in data/glmm/<id>.csv",
    "and fits: lme4_laplace (glmer nAGQ = 1), lme4_agq25 (glmer nAGQ = 25, scalar",
    "random-intercept cases only) and glmmTMB_laplace. lme4 fits are the tight",
    "bobyqa fit followed by polishing refits (see fit_procedure); the selected",
    "stage is reported. Fitting times are in glmm_reference_timings.json."),
  r_version = R.version.string,
  packages = setNames(lapply(pkgs, function(p) as.character(packageVersion(p))), pkgs),
  fit_procedure = list(
    default = "glmer(formula, data, family, nAGQ) with default control (only its loglik/fixef/theta/messages are recorded, under default_control_fit)",
    tight = paste("glmer(formula, data, family, nAGQ, control =", TIGHT_CONTROL_TXT, ")"),
    polish = paste("refit with control =", POLISH_CONTROL_TXT,
                   "repeated (at most 6 times) until the loglik improves by < 1e-10;",
                   "the polish stage with the highest loglik is the reported fit"),
    glmmTMB = "glmmTMB(formula, data, family) with default control (start = list(beta = ...) only if the default fails)"
  ),
  definitions = list(
    std_error = "lme4: sqrt(diag(vcov(fit))) (finite-difference Hessian of the deviance in (theta, beta)); glmmTMB: sqrt(diag(vcov(fit)$cond))",
    std_error_nohessian = "lme4: sqrt(diag(vcov(fit, use.hessian = FALSE))) (from RX, i.e. conditional on theta)",
    loglik = "as.numeric(logLik(fit)); for collapsed binomial rows it includes log choose(trials, events), for Poisson -log(count!)",
    loglik_agq = "lme4 nAGQ > 1: logLik omits the saturated log-likelihood, i.e. equals the marginal loglik minus loglik_checks.loglik_saturated (identical for 0/1 patient rows, different for collapsed binomial and Poisson rows)",
    deviance = "lme4 deviance(fit): conditional relative deviance (sum of squared deviance residuals at the conditional modes), NOT -2*loglik; see minus2loglik",
    loglik_checks = paste(
      "scalar random-intercept fits only, computed independently in R at the fit's (beta, sigma), all normalising constants included.",
      "numerical_integration: exact marginal loglik by per-cluster adaptive integrate() (rel.tol 1e-12);",
      "laplace_observed_information: sum_j h_j(zhat) + log(2 pi)/2 - log(1 - sigma^2 sum_i d2 log f_i/deta^2)/2 (glmmTMB's Laplace);",
      "laplace_expected_information: the same with the Fisher weights, log(1 + sigma^2 sum_i w_i)/2 (lme4's Laplace); both coincide for canonical links.",
      "loglik_saturated: sum_i log f(y_i | mu_i = observed proportion / count) (0 for 0/1 data); lme4's nAGQ > 1 logLik equals numerical_integration - loglik_saturated.",
      "h_j(z) = sum_i log f(y_i | eta_i + sigma z) + log dnorm(z)."),
    random_effects = "SDs from VarCorr (attr 'stddev'); correlations from attr 'correlation'",
    theta = "lme4 getME(fit, 'theta'): relative Cholesky factor entries (for a scalar random intercept, theta = SD)",
    icc_latent = "sd^2 / (sd^2 + pi^2/3), logit-link scalar random-intercept fits only",
    conditional_modes = "lme4 ranef(fit, condVar = TRUE) for the cluster factor; cond_sd = sqrt of the diagonal of attr(, 'postVar')",
    max_abs_gradient = "lme4: max |fit@optinfo$derivs$gradient| (finite differences, deviance scale); glmmTMB: max |fit$sdr$gradient.fixed| (negative loglik scale)",
    truth = "data-generating parameters: logit/cloglog/log P(death30) or log rate = b0 + period_effects[period] + b_trt*treated + b_age*(age - age_centre) + b_male*(sex == 'M') + u_cluster (+ slope*treated) (+ v_cluster_period); sigma_u, sigma_v, slope_sd, slope_corr are the SDs / correlation; cluster_effects are the realised u (order C01..)"
  ),
  cases = cases_out
)

write_reference_json(out, "glmm_reference.json")
timing_out <- list(
  description = "Elapsed seconds (system.time) per fit from the last run of glmm_reference.R; machine dependent, not reproducible, not part of the reference values.",
  r_version = R.version.string,
  timings = lapply(timings, function(x) lapply(x, jnum))
)
write_reference_json(timing_out, "glmm_reference_timings.json")
cat("wrote glmm_reference.json with", length(cases_out), "cases\n")
