# Cost-model reference values for the stepwedge crate.
#
# Run from this directory:
#   cd tests/reference && Rscript cost_models.R
#
# (a) simulates two stepped-wedge cost data sets (set.seed(20261201)) and
#     writes them to data/cost/costs_a.csv (12 clusters x 6 periods) and
#     data/cost/costs_b.csv (6 clusters x 5 periods, small cluster variance);
# (b) reads the CSV files back and fits every case on the data as read:
#     linear mixed models on the raw cost scale (lme4::lmer, REML and ML,
#     random cluster intercept, and cluster + cluster:period intercepts) with
#     lmerTest's Satterthwaite t-tests and every ingredient of them (varpar,
#     the Hessian of the deviance over varpar, its inverse A, the Jacobian of
#     vcov(beta) over varpar), cross-checked against an independent dense
#     implementation with exact (analytic) derivatives; a Gamma log-link glm;
#     and a Gamma log-link random-intercept GLMM (glmmTMB, Laplace);
# (c) writes cost_models.json (deterministic: byte-identical on rerun).

suppressPackageStartupMessages({
  library(stats)
  library(lme4)
  library(glmmTMB)
  library(numDeriv)
  library(jsonlite)
})
if (!requireNamespace("lmerTest", quietly = TRUE))
  stop("lmerTest is missing: apt-get install -y r-cran-lmertest")
source("json_helpers.R")

options(digits = 15)
dir.create(file.path("data", "cost"), recursive = TRUE, showWarnings = FALSE)

SEED <- 20261201L
A_CSV <- "data/cost/costs_a.csv"
B_CSV <- "data/cost/costs_b.csv"

# ---------------------------------------------------------------------------
# Helpers
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

max_rel_diff <- function(a, b) max(abs(a - b)) / max(abs(a))
# NA (null in the JSON) where the reference a is identically 0
max_rel_diff_or_na <- function(a, b) if (max(abs(a)) == 0) NA_real_ else max_rel_diff(a, b)
symm <- function(m) (m + t(m)) / 2

named_list <- function(x) {
  out <- lapply(as.numeric(x), jnum)
  names(out) <- names(x)
  out
}

# ---------------------------------------------------------------------------
# (a) simulation
# ---------------------------------------------------------------------------
# One draw, in this RNG order: u (G cluster effects), v (G * P cluster-period
# effects, cluster-major), patients per cluster-period (G * P, cluster-major),
# age (all patients), gamma noise (all patients).
#   cost = exp(log(40000) + 0.15 treated + 0.02 (period - 1) + 0.01 (age - 84)
#              + u_cluster + v_cluster_period) * e,   e ~ Gamma(shape 2, rate 2)
# rounded to 2 decimals. `cost_u0` is the same draw with u set to 0.
TRUTH <- list(log_intercept = log(40000), treated = 0.15, period_minus_1 = 0.02,
              age_minus_84 = 0.01, gamma_shape = 2, sd_v = 0.1)
simulate_costs <- function(ids, n_periods, start_period, lambda, sd_u) {
  G <- length(ids)
  u <- rnorm(G, 0, sd_u)
  v <- rnorm(G * n_periods, 0, TRUTH$sd_v)
  cp <- expand.grid(period = seq_len(n_periods), k = seq_len(G))
  cp$n <- pmax(5L, rpois(nrow(cp), lambda))
  cp$v <- v
  rows <- cp[rep(seq_len(nrow(cp)), cp$n), ]
  N <- nrow(rows)
  rows$cluster <- ids[rows$k]
  rows$treated <- as.integer(!is.na(start_period[rows$k]) &
                               rows$period >= start_period[rows$k])
  rows$age <- round(rnorm(N, 84, 6), 1)
  noise <- rgamma(N, shape = TRUTH$gamma_shape, rate = TRUTH$gamma_shape)
  eta0 <- TRUTH$log_intercept + TRUTH$treated * rows$treated +
    TRUTH$period_minus_1 * (rows$period - 1) + TRUTH$age_minus_84 * (rows$age - 84) + rows$v
  rows$cost <- round(exp(eta0 + u[rows$k]) * noise, 2)
  rows$cost_u0 <- round(exp(eta0) * noise, 2)
  d <- rows[, c("cluster", "period", "treated", "age", "cost", "cost_u0")]
  rownames(d) <- NULL
  list(data = d, u = u, v = v, n = cp$n)
}

A_IDS <- sprintf("H%02d", 1:12)
A_PERIODS <- 6L
A_START <- 2L + (seq_along(A_IDS) - 1L) %/% 3L          # 2,2,2,3,3,3,4,4,4,5,5,5
A_SD_U <- 0.25
B_IDS <- sprintf("F%d", 1:6)
B_PERIODS <- 5L
B_START <- c(2L, 2L, 3L, 4L, 5L, NA_integer_)           # F6 never crosses
B_SD_U <- 0.05

FIXED_TXT <- "cost ~ treated + factor(period) + age"
LMER_CONTROL_TXT <- paste0('lmerControl(optimizer = "bobyqa", ',
                           'optCtrl = list(rhoend = 1e-12, maxfun = 1e5))')

# the lmer call as a language object, with the data referred to by its global
# name (lmerTest re-evaluates the call with devFunOnly = TRUE)
# (start_theta given: the final fit, evaluated at start_theta by opt_none)
lmm_call <- function(formula_txt, data_name, reml, devFunOnly = FALSE, start_theta = NULL) {
  f <- as.formula(formula_txt, env = globalenv())
  cl <- if (is.null(start_theta)) {
    bquote(lme4::lmer(.(f), data = .(as.name(data_name)), REML = .(reml),
                      control = lme4::lmerControl(
                        optimizer = "bobyqa",
                        optCtrl = list(rhoend = 1e-12, maxfun = 1e5))))
  } else {
    bquote(lme4::lmer(.(f), data = .(as.name(data_name)), REML = .(reml),
                      start = list(theta = .(start_theta)),
                      control = lme4::lmerControl(optimizer = opt_none)))
  }
  if (devFunOnly) cl$devFunOnly <- TRUE
  cl
}

set.seed(SEED)
sim_a <- simulate_costs(A_IDS, A_PERIODS, A_START, 25, A_SD_U)
sim_b <- simulate_costs(B_IDS, B_PERIODS, B_START, 15, B_SD_U)
stopifnot(all(sim_a$data$cost > 0), all(sim_b$data$cost_u0 > 0), all(sim_b$data$cost > 0))

# costs_b screening: is the REML cluster SD of the draw with u ~ N(0, 0.05^2)
# exactly 0? If not, the cluster effect is set to 0 (u = 0; everything else,
# including v, the patients, ages and noise, unchanged) and that is written.
screen_b <- sim_b$data[, c("cluster", "period", "treated", "age", "cost")]
screen_fit <- capture(eval(lmm_call(paste(FIXED_TXT, "+ (1 | cluster)"), "screen_b", TRUE),
                           globalenv()))$value
screen_theta <- unname(getME(screen_fit, "theta"))
b_uses_u0 <- screen_theta > 0
rm(screen_fit)

out_a <- sim_a$data[, c("cluster", "period", "treated", "age", "cost")]
out_b <- sim_b$data[, c("cluster", "period", "treated", "age", "cost")]
if (b_uses_u0) out_b$cost <- sim_b$data$cost_u0
write.csv(out_a, A_CSV, row.names = FALSE)
write.csv(out_b, B_CSV, row.names = FALSE)

# ---------------------------------------------------------------------------
# (b) read back; all fits use the data exactly as read
# ---------------------------------------------------------------------------
costs_a <- read.csv(A_CSV)
costs_b <- read.csv(B_CSV)
stopifnot(identical(names(costs_a), c("cluster", "period", "treated", "age", "cost")),
          identical(names(costs_b), names(costs_a)),
          isTRUE(all.equal(costs_a$cost, out_a$cost, tolerance = 0)),
          isTRUE(all.equal(costs_b$cost, out_b$cost, tolerance = 0)),
          isTRUE(all.equal(costs_a$age, out_a$age, tolerance = 0)),
          identical(sort(unique(costs_a$cluster)), A_IDS),
          identical(sort(unique(costs_b$cluster)), B_IDS),
          # rows are cluster-major (used by the block-diagonal V below)
          !is.unsorted(match(costs_a$cluster, A_IDS)),
          !is.unsorted(match(costs_b$cluster, B_IDS)))

# ---------------------------------------------------------------------------
# Independent dense LMM implementation with exact derivatives over
# varpar = (theta_1..theta_k, sigma). Var(y) = sigma^2 V, V = I + sum_j theta_j^2
# Z_j Z_j' (Z_j = 0/1 indicator matrix of the j-th random-intercept factor, in
# lme4's theta order). W = V^-1, M = X'WX, P = W - W X M^-1 X'W, e = P y,
# q = y'Py (the profiled weighted residual sum of squares, = lme4's pwrss).
#   ML:   dev(theta, sigma) = log|V| + q / sigma^2 + n log(2 pi sigma^2)
#   REML: dev(theta, sigma) = ML + log|M| - p log(2 pi sigma^2)
# (lmerTest's devfun_vp). With D_j = dV/dtheta_j = 2 theta_j Z_j Z_j',
# dP/dtheta_j = -P D_j P, T = W (ML) or P (REML), m = n (ML) or n - p (REML):
#   d dev/d theta_j        = tr(T D_j) - e'D_j e / sigma^2
#   d2 dev/d theta_j d theta_k = tr(T D_jk) - tr(T D_k T D_j)
#                              + (2 e'D_k P D_j e - e'D_jk e) / sigma^2
#   d dev/d sigma = 2 m / sigma - 2 q / sigma^3, d2/d sigma^2 = -2 m/sigma^2 + 6 q/sigma^4
#   d2 dev/d theta_j d sigma = 2 e'D_j e / sigma^3
# with D_jk = d2V/dtheta_j dtheta_k = 2 Z_j Z_j' if j = k, else 0.
# C(varpar) = sigma^2 M^-1 (covariance of the GLS beta):
#   dC/dtheta_j = sigma^2 M^-1 X'W D_j W X M^-1,  dC/dsigma = 2 sigma M^-1.
# ---------------------------------------------------------------------------
re_factor <- function(d, theta_name) {
  grp <- sub("\\.\\(Intercept\\)$", "", theta_name)
  parts <- strsplit(grp, ":", fixed = TRUE)[[1]]
  factor(do.call(paste, c(lapply(parts, function(v) d[[v]]), sep = ":")))
}

# sigma = NULL: sigma at its profiled optimum sqrt(q / m) (lme4's sigma)
lmm_exact <- function(d, X, y, theta_names, theta, sigma, reml) {
  n <- nrow(X)
  p <- ncol(X)
  k <- length(theta_names)
  Z <- lapply(theta_names, function(nm) {
    f <- re_factor(d, nm)
    m <- matrix(0, n, nlevels(f))
    m[cbind(seq_len(n), as.integer(f))] <- 1
    m
  })
  # V is block diagonal by cluster (every factor is nested in cluster)
  blocks <- split(seq_len(n), factor(d$cluster, levels = unique(d$cluster)))
  W <- matrix(0, n, n)
  logdetV <- 0
  for (idx in blocks) {
    Vb <- diag(length(idx))
    for (j in seq_len(k)) Vb <- Vb + theta[j]^2 * tcrossprod(Z[[j]][idx, , drop = FALSE])
    R <- chol(Vb)
    logdetV <- logdetV + 2 * sum(log(diag(R)))
    W[idx, idx] <- chol2inv(R)
  }
  WX <- W %*% X
  M <- crossprod(X, WX)
  Minv <- symm(solve(M))
  beta <- drop(Minv %*% crossprod(WX, y))
  r <- drop(y - X %*% beta)
  e <- drop(W %*% r)
  q <- sum(r * e)
  P <- W - WX %*% Minv %*% t(WX)
  m <- if (reml) n - p else n
  if (is.null(sigma)) sigma <- sqrt(q / m)
  dev <- logdetV + q / sigma^2 + n * log(2 * pi * sigma^2)
  if (reml) dev <- dev + as.numeric(determinant(M)$modulus) - p * log(2 * pi * sigma^2)
  Ze <- lapply(Z, function(z) drop(crossprod(z, e)))
  PZ <- lapply(Z, function(z) P %*% z)
  TZ <- if (reml) PZ else lapply(Z, function(z) W %*% z)
  grad <- numeric(k + 1L)
  H <- matrix(0, k + 1L, k + 1L)
  for (j in seq_len(k)) {
    trTS <- sum(Z[[j]] * TZ[[j]])                 # tr(Z_j' T Z_j)
    grad[j] <- 2 * theta[j] * trTS - 2 * theta[j] * sum(Ze[[j]]^2) / sigma^2
    for (l in seq_len(k)) {
      ZlTZj <- crossprod(Z[[l]], TZ[[j]])
      ZlPZj <- crossprod(Z[[l]], PZ[[j]])
      H[j, l] <- (if (j == l) 2 * trTS else 0) -
        4 * theta[j] * theta[l] * sum(ZlTZj^2) +
        (8 * theta[j] * theta[l] * sum(Ze[[l]] * (ZlPZj %*% Ze[[j]])) -
           (if (j == l) 2 * sum(Ze[[j]]^2) else 0)) / sigma^2
    }
    H[j, k + 1L] <- H[k + 1L, j] <- 4 * theta[j] * sum(Ze[[j]]^2) / sigma^3
  }
  grad[k + 1L] <- 2 * m / sigma - 2 * q / sigma^3
  H[k + 1L, k + 1L] <- -2 * m / sigma^2 + 6 * q / sigma^4
  C <- sigma^2 * Minv
  jac <- lapply(seq_len(k), function(j) {
    XWZ <- crossprod(WX, Z[[j]])
    symm(2 * theta[j] * sigma^2 * Minv %*% tcrossprod(XWZ) %*% Minv)
  })
  jac[[k + 1L]] <- 2 * sigma * Minv
  # derivative of the *profiled* deviance (sigma at its optimum) over theta_j^2
  # at theta = 0: tr(T Z_j Z_j') - e'Z_j Z_j' e / sigma^2 (envelope theorem)
  dtheta2 <- vapply(seq_len(k), function(j)
    sum(Z[[j]] * TZ[[j]]) - sum(Ze[[j]]^2) / sigma^2, numeric(1))
  H <- symm(H)
  # the profiled deviance over theta (sigma at sqrt(q / m)): gradient = the
  # theta part of grad there (envelope theorem), Hessian = Schur complement
  th <- seq_len(k)
  H_prof <- H[th, th, drop = FALSE] -
    H[th, k + 1L, drop = FALSE] %*% H[k + 1L, th, drop = FALSE] / H[k + 1L, k + 1L]
  list(dev = dev, grad = grad, hessian = H, C = symm(C), jac = jac, beta = beta,
       sigma = sigma, q = q, sigma_profiled = sqrt(q / m), ddev_dtheta2 = dtheta2,
       hessian_profiled = symm(H_prof))
}

# lme4 "optimizer" returning its start unchanged: the final lmer fit is
# evaluated exactly at the polished theta
opt_none <- function(par, fn, lower, upper, control) {
  list(par = par, fval = fn(par), conv = 0L, feval = 1L,
       message = "no optimisation: evaluated at the polished theta")
}
FINAL_CONTROL_TXT <- paste0("lmerControl(optimizer = <function returning its start unchanged>),",
                            " start = list(theta = <polished theta>)")

# Satterthwaite df of the contrast L'beta from the ingredients
satt_df <- function(L, C, jac, A) {
  v <- sum(L * (C %*% L))
  g <- vapply(jac, function(J) sum(L * (J %*% L)), numeric(1))
  2 * v^2 / sum(g * (A %*% g))
}

# ---------------------------------------------------------------------------
# Linear mixed models (lme4 + lmerTest)
# ---------------------------------------------------------------------------
RE_TXT <- list(cluster = "(1 | cluster)", nested = "(1 | cluster) + (1 | cluster:period)")

fit_lmm <- function(name, data_name, re_key, reml) {
  d <- get(data_name, envir = globalenv())
  formula_txt <- paste(FIXED_TXT, "+", RE_TXT[[re_key]])
  # 1. tight bobyqa
  capA <- capture(eval(lmm_call(formula_txt, data_name, reml), globalenv()))
  if (!is.null(capA$error)) stop(name, ": lmer failed: ", capA$error)
  fitA <- capA$value
  devfun <- eval(lmm_call(formula_txt, data_name, reml, devFunOnly = TRUE), globalenv())
  terms <- names(fixef(fitA))
  p <- length(terms)
  thetaA <- getME(fitA, "theta")
  theta_names <- names(thetaA)
  thetaA <- unname(thetaA)
  k <- length(thetaA)
  X <- getME(fitA, "X")
  Xm <- model.matrix(as.formula(paste("~", sub("^cost ~ ", "", FIXED_TXT))), d)
  stopifnot(identical(colnames(Xm), terms), max(abs(Xm - X)) == 0)
  dimnames(Xm) <- NULL
  exA <- lmm_exact(d, Xm, d$cost, theta_names, thetaA, NULL, reml)
  boundary <- thetaA == 0
  critA <- if (reml) REMLcrit(fitA) else deviance(fitA)
  gradA <- if (!any(boundary)) grad(devfun, thetaA) else NULL

  # 2. polish (interior estimates only): Newton steps on the exact profiled
  # deviance over theta (gradient and Hessian from lmm_exact), while the
  # max |gradient| decreases (at most 10 steps, stop below 1e-10)
  theta <- thetaA
  newton <- list()
  if (!any(boundary)) {
    ex_cur <- exA
    for (it in 1:10) {
      g <- ex_cur$grad[seq_len(k)]
      if (max(abs(g)) < 1e-10) break
      th_new <- theta - drop(solve(ex_cur$hessian_profiled, g))
      if (any(th_new <= 0)) break
      ex_new <- lmm_exact(d, Xm, d$cost, theta_names, th_new, NULL, reml)
      g_new <- ex_new$grad[seq_len(k)]
      if (max(abs(g_new)) >= max(abs(g))) break
      newton[[it]] <- list(max_abs_gradient_before = jnum(max(abs(g))),
                           max_abs_step = jnum(max(abs(th_new - theta))),
                           max_abs_gradient_after = jnum(max(abs(g_new))),
                           deviance_change = jnum(ex_new$dev - ex_cur$dev))
      theta <- th_new
      ex_cur <- ex_new
    }
  }

  # 3. final lmer fit evaluated exactly at the polished theta
  cap <- capture(eval(lmm_call(formula_txt, data_name, reml, start_theta = theta), globalenv()))
  if (!is.null(cap$error)) stop(name, ": final lmer failed: ", cap$error)
  fit <- cap$value
  stopifnot(identical(unname(getME(fit, "theta")), theta),
            identical(names(fixef(fit)), terms))
  sigma <- sigma(fit)
  varpar <- c(theta, sigma)
  varpar_names <- c(theta_names, "sigma")
  beta <- unname(fixef(fit))
  V_beta <- as.matrix(vcov(fit))
  dimnames(V_beta) <- NULL
  groups <- sub("\\.\\(Intercept\\)$", "", theta_names)
  vc <- as.data.frame(VarCorr(fit))
  re_sd <- vc$sdcor[match(groups, vc$grp)]
  ll <- logLik(fit)
  crit <- if (reml) REMLcrit(fit) else deviance(fit)

  # --- convergence: gradient of lme4's profiled deviance over theta ---------
  dev_hat <- devfun(theta)
  grad_theta <- if (!any(boundary)) grad(devfun, theta) else NULL
  # on the boundary: one-sided slope of devfun in theta^2 at 0 (forward
  # difference with t = 1e-8, devfun(sqrt(t)) - devfun(0)) / t)
  slope_theta2 <- NULL
  if (any(boundary)) {
    slope_theta2 <- vapply(which(boundary), function(j) {
      th <- theta
      th[j] <- sqrt(1e-8)
      (devfun(th) - devfun(theta)) / 1e-8
    }, numeric(1))
  }

  # --- lmerTest ----------------------------------------------------------
  ltA <- capture(lmerTest::as_lmerModLmerTest(fitA))$value
  dfA <- unname(summary(ltA)$coefficients[, "df"])
  lt_cap <- capture(lmerTest::as_lmerModLmerTest(fit))
  if (!is.null(lt_cap$error)) stop(name, ": as_lmerModLmerTest failed: ", lt_cap$error)
  lt <- lt_cap$value
  sm <- summary(lt)
  ct <- sm$coefficients
  stopifnot(identical(rownames(ct), terms),
            identical(colnames(ct), c("Estimate", "Std. Error", "df", "t value", "Pr(>|t|)")))
  lt_varpar <- unname(c(lt@theta, lt@sigma))
  stopifnot(identical(lt_varpar, varpar))
  # the Hessian exactly as lmerTest computes it (it does not store it)
  h <- numDeriv::hessian(func = lmerTest:::devfun_vp, x = varpar, devfun = devfun,
                         reml = reml)
  eig <- eigen(h, symmetric = TRUE)
  A <- lt@vcov_varpar
  A_from_h <- 2 * solve(h)
  Jac <- lapply(lt@Jac_list, function(J) { J <- unname(as.matrix(J)); J })
  L <- as.numeric(terms == "treated")
  con_t <- lmerTest::contest(lt, L, joint = FALSE)
  con_F <- lmerTest::contest(lt, L, joint = TRUE)
  devfun_vp_hat <- lmerTest:::devfun_vp(varpar, devfun, reml)

  # --- independent exact implementation at the final estimate -------------
  ex <- lmm_exact(d, Xm, d$cost, theta_names, theta, sigma, reml)
  A_exact <- symm(2 * solve(ex$hessian))
  df_exact <- vapply(seq_len(p), function(i) satt_df(diag(p)[i, ], ex$C, ex$jac, A_exact),
                     numeric(1))
  df_lt_recomputed <- vapply(seq_len(p), function(i) satt_df(diag(p)[i, ], V_beta, Jac, A),
                             numeric(1))

  exact_tab <- list(
    se = jvec(sqrt(diag(ex$C))),
    df = jvec(df_exact),
    t = jvec(beta / sqrt(diag(ex$C))),
    p_value = jvec(2 * pt(abs(beta / sqrt(diag(ex$C))), df_exact, lower.tail = FALSE)))

  res <- list(
    name = name,
    fitting_function = "lme4::lmer",
    data = switch(data_name, costs_a = A_CSV, costs_b = B_CSV),
    formula = formula_txt,
    REML = reml,
    control = paste(LMER_CONTROL_TXT, "then polished (see polish)"),
    n_obs = as.integer(nobs(fit)),
    n_groups = as.list(vapply(ngrps(fit), as.integer, integer(1))),
    terms = jstr(terms),
    theta_names = jstr(theta_names),
    varpar_names = jstr(varpar_names),
    fixef = jvec(beta),
    se = jvec(sqrt(diag(V_beta))),
    vcov = jmat(V_beta),
    theta = jvec(theta),
    sigma = jnum(sigma),
    random_effect_sd = jvec(re_sd),
    random_effect_sd_groups = jstr(groups),
    residual_sd = jnum(sigma),
    criterion = if (reml) list(REMLcrit = jnum(crit)) else
      list(deviance = jnum(crit), AIC = jnum(AIC(fit))),
    loglik = jnum(as.numeric(ll)),
    loglik_df = as.integer(attr(ll, "df")),
    singular = isSingular(fit),
    satterthwaite = list(
      estimate = jvec(unname(ct[, "Estimate"])),
      se = jvec(unname(ct[, "Std. Error"])),
      df = jvec(unname(ct[, "df"])),
      t = jvec(unname(ct[, "t value"])),
      p_value = jvec(unname(ct[, "Pr(>|t|)"]))),
    treatment_contrast = list(
      L = jvec(L),
      estimate = jnum(con_t$Estimate),
      se = jnum(con_t[["Std. Error"]]),
      df = jnum(con_t$df),
      t = jnum(con_t[["t value"]]),
      p_value = jnum(con_t[["Pr(>|t|)"]]),
      F = jnum(con_F[["F value"]]),
      num_df = jnum(con_F$NumDF),
      den_df = jnum(con_F$DenDF),
      p_value_F = jnum(con_F[["Pr(>F)"]])),
    lmerTest_ingredients = list(
      varpar = jvec(varpar),
      deviance_at_varpar = jnum(devfun_vp_hat),
      hessian = jmat(h),
      hessian_eigenvalues = jvec(eig$values),
      vcov_varpar = jmat(A),
      vcov_beta = jmat(unname(lt@vcov_beta)),
      jacobian = lapply(Jac, jmat)),
    exact = list(
      deviance_at_varpar = jnum(ex$dev),
      gradient = jvec(ex$grad),
      hessian = jmat(ex$hessian),
      vcov_varpar = jmat(A_exact),
      vcov_beta = jmat(ex$C),
      jacobian = lapply(ex$jac, jmat),
      satterthwaite = exact_tab,
      treated_df = jnum(df_exact[terms == "treated"])),
    polish = list(
      tight_fit = list(
        control = LMER_CONTROL_TXT,
        theta = jvec(thetaA),
        sigma = jnum(sigma(fitA)),
        fixef = jvec(unname(fixef(fitA))),
        criterion = jnum(critA),
        optimizer_convergence_code = as.integer(fitA@optinfo$conv$opt),
        optimizer_feval = as.integer(fitA@optinfo$feval),
        optimizer_message = if (is.null(fitA@optinfo$message)) NA else fitA@optinfo$message,
        lme4_messages = jstr(unlist(fitA@optinfo$conv$lme4$messages)),
        r_warnings = jstr(capA$warnings),
        r_messages = jstr(capA$messages),
        devfun_gradient_theta = if (is.null(gradA)) NA else jvec(gradA),
        exact_gradient_theta = jvec(exA$grad[seq_len(k)]),
        satterthwaite_df = jvec(dfA)),
      newton_steps = newton,
      max_abs_theta_change = jnum(max(abs(theta - thetaA))),
      criterion_change = jnum(crit - critA),
      satterthwaite_df_max_rel_change = jnum(max(abs(unname(ct[, "df"]) / dfA - 1))),
      max_abs_fixef_change = jnum(max(abs(beta - unname(fixef(fitA))))),
      final_control = if (length(newton)) FINAL_CONTROL_TXT else
        paste(FINAL_CONTROL_TXT, "(no Newton step was taken: theta is the tight fit's)")),
    checks = list(
      tight_fit_optimizer_convergence_code = as.integer(fitA@optinfo$conv$opt),
      final_lme4_messages = jstr(unlist(fit@optinfo$conv$lme4$messages)),
      final_r_warnings = jstr(cap$warnings),
      final_r_messages = jstr(cap$messages),
      on_boundary = jstr(theta_names[boundary]),
      devfun_gradient_theta = if (is.null(grad_theta)) NA else jvec(grad_theta),
      devfun_max_abs_gradient_theta = if (is.null(grad_theta)) NA else jnum(max(abs(grad_theta))),
      boundary_devfun_slope_in_theta_squared =
        if (is.null(slope_theta2)) NA else jvec(slope_theta2),
      boundary_exact_slope_in_theta_squared =
        if (is.null(slope_theta2)) NA else jvec(ex$ddev_dtheta2[boundary]),
      devfun_at_theta_minus_criterion = jnum(dev_hat - crit),
      minus_half_criterion_minus_loglik = jnum(-crit / 2 - as.numeric(ll)),
      devfun_vp_minus_criterion = jnum(devfun_vp_hat - crit),
      exact_deviance_minus_devfun_vp = jnum(ex$dev - devfun_vp_hat),
      exact_max_abs_gradient = jnum(max(abs(ex$grad))),
      exact_sigma_profiled_minus_sigma = jnum(ex$sigma_profiled - sigma),
      exact_beta_vs_fixef_max_abs_diff = jnum(max(abs(ex$beta - beta))),
      exact_vcov_beta_vs_vcov_max_rel_diff = jnum(max_rel_diff(V_beta, ex$C)),
      lmerTest_vcov_beta_minus_vcov_max_abs_diff = jnum(max(abs(unname(lt@vcov_beta) - V_beta))),
      lmerTest_warnings = jstr(lt_cap$warnings),
      lmerTest_messages = jstr(lt_cap$messages),
      vcov_varpar_vs_2_solve_hessian_max_rel_diff = jnum(max_rel_diff(A, A_from_h)),
      hessian_vs_exact_max_rel_diff = jnum(max_rel_diff(ex$hessian, h)),
      vcov_varpar_vs_exact_max_rel_diff = jnum(max_rel_diff(A_exact, A)),
      jacobian_vs_exact_max_rel_diff = jvec(vapply(seq_along(Jac), function(i)
        max_rel_diff_or_na(ex$jac[[i]], Jac[[i]]), numeric(1))),
      jacobian_vs_exact_max_abs_diff = jvec(vapply(seq_along(Jac), function(i)
        max(abs(ex$jac[[i]] - Jac[[i]])), numeric(1))),
      satterthwaite_df_recomputed_minus_lmerTest_max_abs_diff =
        jnum(max(abs(df_lt_recomputed - unname(ct[, "df"])))),
      satterthwaite_df_vs_exact_max_rel_diff =
        jnum(max(abs(unname(ct[, "df"]) / df_exact - 1))),
      contest_df_minus_summary_df = jnum(con_t$df - unname(ct["treated", "df"])),
      contest_F_den_df_minus_t_df = jnum(con_F$DenDF - con_t$df),
      summary_p_value_recomputed_max_abs_diff = jnum(max(abs(
        2 * pt(abs(ct[, "t value"]), ct[, "df"], lower.tail = FALSE) - ct[, "Pr(>|t|)"])))
    )
  )
  raw <- list(
    boundary = any(boundary), n = nrow(d), p = p, h = h, h_exact = ex$hessian,
    df = unname(ct[, "df"]), df_exact = df_exact, dfA = dfA,
    tight_max_abs_gradient = max(abs(exA$grad[seq_len(k)])),
    theta_change = max(abs(theta - thetaA)),
    hess_rel = max_rel_diff(ex$hessian, h), A_rel = max_rel_diff(A_exact, A),
    jac_rel = max(vapply(seq_along(Jac), function(i)
      if (max(abs(ex$jac[[i]])) == 0) 0 else max_rel_diff(ex$jac[[i]], Jac[[i]]), numeric(1))),
    df_rel = max(abs(unname(ct[, "df"]) / df_exact - 1)),
    devfun_grad = if (is.null(grad_theta)) NA else max(abs(grad_theta)),
    exact_grad = max(abs(ex$grad)))
  list(json = res, fit = fit, lt = lt, raw = raw)
}

lmm_specs <- list(
  lmm_reml_cluster_a = list("costs_a", "cluster", TRUE),
  lmm_ml_cluster_a = list("costs_a", "cluster", FALSE),
  lmm_reml_nested_a = list("costs_a", "nested", TRUE),
  lmm_ml_nested_a = list("costs_a", "nested", FALSE),
  lmm_reml_cluster_b = list("costs_b", "cluster", TRUE)
)
lmm_fits <- lapply(names(lmm_specs), function(nm) {
  s <- lmm_specs[[nm]]
  fit_lmm(nm, s[[1]], s[[2]], s[[3]])
})
names(lmm_fits) <- names(lmm_specs)
b_singular <- isSingular(lmm_fits$lmm_reml_cluster_b$fit)
b_theta <- unname(getME(lmm_fits$lmm_reml_cluster_b$fit, "theta"))

# ---------------------------------------------------------------------------
# Gamma log-link GLM (costs_a), converged tightly and polished
# ---------------------------------------------------------------------------
glm_formula <- as.formula(FIXED_TXT)
glm_ctl <- glm.control(epsilon = 1e-14, maxit = 200)
glm_cap <- capture(glm(glm_formula, family = Gamma(link = "log"), data = costs_a,
                       control = glm_ctl))
if (!is.null(glm_cap$error)) stop("Gamma glm failed: ", glm_cap$error)
glm0 <- glm_cap$value
gfit <- glm0
n_polish <- 0L
repeat {  # polishing, as in glm_reference.R
  gnew <- glm(glm_formula, family = Gamma(link = "log"), data = costs_a, control = glm_ctl,
              start = unname(coef(gfit)))
  delta <- max(abs(coef(gnew) - coef(gfit)))
  gfit <- gnew
  n_polish <- n_polish + 1L
  if (delta <= 1e-14 * max(1, abs(coef(gfit))) || n_polish >= 50L) break
}
gterms <- names(coef(gfit))
stopifnot(identical(gterms, as.character(lmm_fits$lmm_reml_cluster_a$json$terms)))
gsm <- summary(gfit)
gct <- gsm$coefficients
y_a <- costs_a$cost
mu_a <- unname(fitted(gfit))
n_a <- length(y_a)
g_ll <- logLik(gfit)
g_dev <- deviance(gfit)
disp_dev_n <- g_dev / n_a
ll_recomputed <- sum(dgamma(y_a, shape = 1 / disp_dev_n, scale = mu_a * disp_dev_n, log = TRUE))
pearson_disp <- sum(((y_a - mu_a) / mu_a)^2) / gfit$df.residual
# maximum-likelihood shape at the fitted means: log(a) - digamma(a) = deviance / (2 n)
ml_shape <- exp(uniroot(function(la) la - digamma(exp(la)) - g_dev / (2 * n_a),
                        c(log(1e-3), log(1e3)), tol = 1e-15)$root)
ll_ml_shape <- sum(dgamma(y_a, shape = ml_shape, scale = mu_a / ml_shape, log = TRUE))
ml_shape_score <- n_a * (log(ml_shape) - digamma(ml_shape)) - g_dev / 2

glm_json <- list(
  name = "glm_gamma_log_a",
  fitting_function = "stats::glm",
  data = A_CSV,
  formula = FIXED_TXT,
  family = "Gamma",
  link = "log",
  control = "glm.control(epsilon = 1e-14, maxit = 200), then polished",
  n_obs = n_a,
  terms = jstr(gterms),
  coefficients = jvec(unname(coef(gfit))),
  se = jvec(unname(gct[, "Std. Error"])),
  t = jvec(unname(gct[, "t value"])),
  p_value = jvec(unname(gct[, "Pr(>|t|)"])),
  vcov = jmat(unname(vcov(gfit))),
  dispersion = jnum(gsm$dispersion),
  deviance = jnum(g_dev),
  null_deviance = jnum(gfit$null.deviance),
  df_residual = as.integer(gfit$df.residual),
  df_null = as.integer(gfit$df.null),
  loglik = jnum(as.numeric(g_ll)),
  loglik_df = as.integer(attr(g_ll, "df")),
  AIC = jnum(AIC(gfit)),
  loglik_dispersion = jnum(disp_dev_n),
  ml_shape = jnum(ml_shape),
  loglik_at_ml_shape = jnum(ll_ml_shape),
  iter = as.integer(glm0$iter),
  converged = gfit$converged,
  polish_refits = n_polish,
  polish_last_max_coef_change = jnum(delta),
  checks = list(
    loglik_recomputed_minus_logLik = jnum(ll_recomputed - as.numeric(g_ll)),
    aic_minus_2_df_plus_minus2_loglik = jnum(AIC(gfit) - (-2 * as.numeric(g_ll) + 2 * attr(g_ll, "df"))),
    pearson_dispersion_recomputed_minus_summary = jnum(pearson_disp - gsm$dispersion),
    ml_shape_score = jnum(ml_shape_score),
    loglik_at_ml_shape_minus_logLik = jnum(ll_ml_shape - as.numeric(g_ll)),
    r_warnings = jstr(glm_cap$warnings)
  )
)

# ---------------------------------------------------------------------------
# Gamma log-link random-intercept GLMM (glmmTMB, Laplace), polished
# ---------------------------------------------------------------------------
# The optimizer handed to glmmTMB: nlminb (glmmTMB's default), then Newton
# steps on TMB's exact outer gradient (Hessian = numDeriv::jacobian of it,
# symmetrised) while max |gradient| decreases (at most 10 steps, stop below
# 1e-10). The final objective evaluation at the polished point makes it TMB's
# last.par.best, so sdreport (vcov, SEs) is taken there.
tmb_newton <- list()
polish_nlminb <- function(par, fn, gr, control = list(), ...) {
  opt <- nlminb(par, fn, gr, control = control)
  x <- opt$par
  gx <- as.numeric(gr(x))
  tmb_newton <<- list(list(step = 0L, max_abs_gradient = jnum(max(abs(gx))),
                           objective = jnum(fn(x))))
  for (it in 1:10) {
    if (max(abs(gx)) < 1e-10) break
    H <- symm(jacobian(function(z) as.numeric(gr(z)), x))
    x1 <- x - solve(H, gx)
    g1 <- as.numeric(gr(x1))
    if (!all(is.finite(g1)) || max(abs(g1)) >= max(abs(gx))) break
    x <- x1
    gx <- g1
    tmb_newton[[length(tmb_newton) + 1L]] <<- list(
      step = it, max_abs_gradient = jnum(max(abs(gx))), objective = jnum(fn(x)))
  }
  env <- environment(fn)
  env$value.best <- Inf  # make the polished point TMB's last.par.best
  val <- fn(x)
  list(par = x, objective = val, convergence = opt$convergence,
       message = opt$message, iterations = opt$iterations, evaluations = opt$evaluations,
       nlminb_par = opt$par, nlminb_objective = opt$objective)
}
tmb_formula <- as.formula(paste(FIXED_TXT, "+ (1 | cluster)"))
tmb_cap <- capture(glmmTMB(tmb_formula, data = costs_a, family = Gamma(link = "log"),
                           control = glmmTMBControl(optimizer = polish_nlminb, parallel = 1L)))
if (!is.null(tmb_cap$error)) stop("glmmTMB failed: ", tmb_cap$error)
tfit <- tmb_cap$value
tmb_default_cap <- capture(glmmTMB(tmb_formula, data = costs_a, family = Gamma(link = "log"),
                                   control = glmmTMBControl(parallel = 1L)))
tfit_default <- tmb_default_cap$value

t_beta <- fixef(tfit)$cond
stopifnot(identical(names(t_beta), gterms))
t_vcov <- unname(as.matrix(vcov(tfit)$cond))
t_random <- tfit$obj$env$random
t_parfull <- tfit$fit$parfull
stopifnot(identical(unname(t_parfull[-t_random]), unname(tfit$fit$par)))
t_par <- unname(tfit$fit$par)
t_par_names <- c(gterms, "betad", "theta")
stopifnot(identical(names(tfit$fit$par), c(rep("beta", length(gterms)), "betad", "theta")))
t_grad <- as.numeric(tfit$obj$gr(tfit$fit$par))
t_sd <- unname(attr(VarCorr(tfit)$cond$cluster, "stddev"))
t_sigma <- sigma(tfit)
t_ll <- logLik(tfit)
t_modes <- unname(ranef(tfit)$cond$cluster[A_IDS, "(Intercept)"])

# independent Laplace approximation of the marginal log-likelihood at the
# estimate, with the Gamma density in glmmTMB's parametrisation: shape
# a = exp(betad), scale = mu / a, u_g ~ N(0, s^2), s = exp(theta):
#   ell_g = max_u h_g(u) + log(2 pi)/2 - log(-h_g''(u))/2,
#   h_g(u) = sum_i log dgamma(y_i; a, mu_i(u) / a) + log dnorm(u; 0, s),
#   h_g'(u) = a sum_i (y_i / mu_i - 1) - u / s^2, h_g''(u) = -a sum_i y_i / mu_i - 1 / s^2
laplace_gamma <- function(beta, shape, s) {
  Xa <- model.matrix(glm_formula, costs_a)
  eta <- drop(Xa %*% beta)
  gi <- match(costs_a$cluster, A_IDS)
  ell <- numeric(length(A_IDS))
  modes <- numeric(length(A_IDS))
  for (g in seq_along(A_IDS)) {
    idx <- which(gi == g)
    y <- costs_a$cost[idx]
    u <- 0
    for (it in 1:100) {
      mu <- exp(eta[idx] + u)
      d1 <- shape * sum(y / mu - 1) - u / s^2
      d2 <- -shape * sum(y / mu) - 1 / s^2
      step <- -d1 / d2
      u <- u + step
      if (abs(step) < 1e-15 * max(1, abs(u))) break
    }
    mu <- exp(eta[idx] + u)
    hmax <- sum(dgamma(y, shape = shape, scale = mu / shape, log = TRUE)) +
      dnorm(u, 0, s, log = TRUE)
    ell[g] <- hmax + 0.5 * log(2 * pi) - 0.5 * log(shape * sum(y / mu) + 1 / s^2)
    modes[g] <- u
  }
  list(loglik = sum(ell), modes = modes)
}
t_shape <- exp(t_par[length(gterms) + 1L])
lap <- laplace_gamma(unname(t_beta), t_shape, exp(t_par[length(gterms) + 2L]))

tmb_json <- list(
  name = "glmm_gamma_log_a",
  fitting_function = "glmmTMB::glmmTMB",
  data = A_CSV,
  formula = paste(FIXED_TXT, "+ (1 | cluster)"),
  family = "Gamma",
  link = "log",
  control = paste("glmmTMBControl(optimizer = <nlminb, then Newton polish>, parallel = 1);",
                  "see fit_procedure.glmmTMB"),
  n_obs = as.integer(nobs(tfit)),
  n_clusters = length(A_IDS),
  terms = jstr(gterms),
  fixef = jvec(unname(t_beta)),
  se = jvec(sqrt(diag(t_vcov))),
  vcov = jmat(t_vcov),
  cluster_sd = jnum(t_sd),
  sigma = jnum(t_sigma),
  shape = jnum(t_shape),
  loglik = jnum(as.numeric(t_ll)),
  loglik_df = as.integer(attr(t_ll, "df")),
  AIC = jnum(AIC(tfit)),
  par_names = jstr(t_par_names),
  par = jvec(t_par),
  vcov_par = jmat(unname(tfit$sdr$cov.fixed)),
  cluster_labels = jstr(A_IDS),
  conditional_modes = jvec(t_modes),
  checks = list(
    nlminb_convergence_code = as.integer(tfit$fit$convergence),
    nlminb_message = tfit$fit$message,
    nlminb_iterations = as.integer(tfit$fit$iterations),
    newton_polish = tmb_newton,
    max_abs_gradient = jnum(max(abs(t_grad))),
    gradient = jvec(t_grad),
    sdreport_max_abs_gradient_fixed = jnum(max(abs(tfit$sdr$gradient.fixed))),
    pdHess = tfit$sdr$pdHess,
    r_warnings = jstr(tmb_cap$warnings),
    r_messages = jstr(tmb_cap$messages),
    sigma_minus_shape_to_minus_half = jnum(t_sigma - t_shape^-0.5),
    laplace_recomputed_minus_loglik = jnum(lap$loglik - as.numeric(t_ll)),
    laplace_modes_max_abs_diff = jnum(max(abs(lap$modes - t_modes))),
    default_fit = list(
      control = "glmmTMBControl(parallel = 1) (nlminb only)",
      par = jvec(unname(tfit_default$fit$par)),
      max_abs_gradient = jnum(max(abs(tfit_default$sdr$gradient.fixed))),
      loglik_minus_polished = jnum(as.numeric(logLik(tfit_default)) - as.numeric(t_ll)),
      max_abs_par_diff = jnum(max(abs(unname(tfit_default$fit$par) - t_par))),
      r_warnings = jstr(tmb_default_cap$warnings))
  )
)

# ---------------------------------------------------------------------------
# (c) JSON
# ---------------------------------------------------------------------------
data_json <- function(d, path, ids, n_periods, start, sim, sd_u, uses_u, extra = list()) {
  c(list(
    path = path,
    columns = jstr(names(d)),
    n_rows = nrow(d),
    n_clusters = length(ids),
    n_periods = n_periods,
    cluster_labels = jstr(ids),
    start_period = jvec(as.integer(start)),
    patients_per_cluster = jvec(as.integer(table(factor(d$cluster, levels = ids)))),
    patients_per_cluster_period = jvec(as.integer(sim$n)),
    n_treated_rows = sum(d$treated),
    cost_range = jvec(range(d$cost)),
    sd_u = jnum(sd_u),
    cluster_effects_u = jvec(sim$u),
    cost_uses_u = uses_u,
    cluster_period_effects_v = jvec(sim$v)), extra)
}
stopifnot(identical(as.integer(t(table(factor(costs_a$cluster, levels = A_IDS),
                                       costs_a$period))), as.integer(sim_a$n)))

# notes, with the numbers of this run
raw_int <- lapply(lmm_fits[!vapply(lmm_fits, function(f) f$raw$boundary, logical(1))],
                  `[[`, "raw")
raw_b <- lmm_fits$lmm_reml_cluster_b$raw
mx <- function(field) max(vapply(raw_int, `[[`, numeric(1), field))
notes <- c(
  if (b_uses_u0) {
    sprintf(paste("costs_b: with u ~ N(0, 0.05^2) the REML cluster SD theta was %.6g, not 0",
                  "(data.costs_b.screening); the cluster effect was then set to 0 (u = 0; v, the",
                  "patients, ages and noise unchanged). The REML fit of the written data %s."),
            screen_theta, if (b_singular) "is singular: theta is exactly 0 (bobyqa stops on the bound)"
            else sprintf("is still not singular (theta = %.6g)", b_theta))
  } else {
    sprintf("costs_b: the draw with u ~ N(0, 0.05^2) gives a REML cluster SD theta of %.6g%s.",
            b_theta, if (b_singular) " (singular)" else "")
  },
  if (raw_b$boundary) paste(
    "lmerTest on the boundary (lmm_reml_cluster_b, theta = 0): devfun_vp is even in theta (V",
    "depends on theta^2) and lme4's devfun accepts theta < 0, so numDeriv's central differences",
    "give a zero theta gradient, zero theta-sigma cross terms and d2/dtheta2 = 2 x (the slope in",
    "theta^2) > 0. The Hessian stays positive definite, lmerTest raises no warning, and dC/dtheta",
    "is 0 there, so the Satterthwaite df comes from sigma alone: df = 2 (L'CL)^2 / (A_ss (2",
    "L'CL/sigma)^2) = sigma^2 / (2 A_ss) = n - p for REML (A_ss = sigma^2 / (2 (n - p))), the",
    sprintf("OLS residual df, for every coefficient. lmerTest gives %.10f; n - p = %d.",
            raw_b$df[2], raw_b$n - raw_b$p)),
  if (raw_b$boundary) paste(
    "numDeriv's hessian (genD) steps by d = 0.1 relative to x, but by an absolute eps = 1e-4",
    "where x = 0. On the boundary the theta-theta entry is therefore dominated by rounding:",
    sprintf("lmerTest's %.10g against the exact %.10g (%.1e relative). The df is unaffected,",
            raw_b$h[1, 1], raw_b$h_exact[1, 1], abs(raw_b$h[1, 1] / raw_b$h_exact[1, 1] - 1)),
    "since the theta component of g is 0."),
  paste(
    "Accuracy of lmerTest's numerical ingredients against the exact ones (interior cases,",
    sprintf("max over cases): hessian %.1e, vcov_varpar %.1e, jacobian %.1e (relative to each",
            mx("hess_rel"), mx("A_rel"), mx("jac_rel")),
    sprintf("matrix's largest entry), Satterthwaite df %.1e relative. Compare a", mx("df_rel")),
    "reimplementation with exact derivatives against exact.* tightly and against lmerTest's",
    "values with a relative tolerance of about 1e-6."),
  paste(
    "Polishing: the tight bobyqa fits stop with max |gradient of the profiled criterion over",
    sprintf("theta| up to %.1e; the Newton polish moves theta by up to %.1e and the", mx("tight_max_abs_gradient"),
            mx("theta_change")),
    sprintf("Satterthwaite df by up to %.1e relative. numDeriv::grad of lme4's devfun at the",
            max(vapply(raw_int, function(r) max(abs(r$df / r$dfA - 1)), numeric(1)))),
    sprintf("polished theta is at most %.1e (its numerical noise); the exact gradient over", mx("devfun_grad")),
    sprintf("varpar is at most %.1e.", mx("exact_grad"))),
  paste(
    "R's logLik for the Gamma glm is not the maximum-likelihood value: logLik.glm plugs in",
    "phi = deviance / n (Gamma()$aic), counts phi in df, and is neither the Pearson dispersion",
    sprintf("(summary's) nor the ML shape. Here the ML-shape log-likelihood is higher by %.4f.",
            ll_ml_shape - as.numeric(g_ll))),
  paste(
    "glmmTMB's sigma(fit) for the Gamma family is exp(-betad/2) = 1/sqrt(shape), the coefficient",
    "of variation of y given the random effect; the shape is exp(betad). glmmTMB's default",
    sprintf("nlminb stops with max |gradient| %.1e (age, uncentred) and parameters %.1e from the",
            max(abs(tfit_default$sdr$gradient.fixed)),
            max(abs(unname(tfit_default$fit$par) - t_par))),
    sprintf("polished optimum, whose max |gradient| is %.1e.", max(abs(t_grad)))),
  paste(
    "costs_b design: 6 clusters and 5 periods leave only 4 crossing periods (2..5), so one",
    "period has two crossings: start periods F1..F6 = 2, 2, 3, 4, 5, never.")
)

pkgs <- c("lme4", "lmerTest", "glmmTMB", "TMB", "Matrix", "minqa", "numDeriv", "jsonlite",
          "stats")
out <- list(
  description = paste(
    "Reference values for cost models on two simulated stepped-wedge cost data sets,",
    "generated by cost_models.R: linear mixed models on the raw cost scale (lme4::lmer REML",
    "and ML, cluster and cluster + cluster:period random intercepts) with lmerTest's",
    "Satterthwaite t-tests and all their ingredients, a Gamma log-link glm and a Gamma",
    "log-link random-intercept GLMM (glmmTMB). Matrices are arrays of rows; beta order =",
    "'terms', varpar order = 'varpar_names' (lme4's theta order, then sigma)."),
  r_version = R.version.string,
  packages = setNames(lapply(pkgs, function(p) as.character(packageVersion(p))), pkgs),
  seed = SEED,
  truth = named_list(unlist(TRUTH)),
  data = list(
    costs_a = data_json(costs_a, A_CSV, A_IDS, A_PERIODS, A_START, sim_a, A_SD_U, TRUE),
    costs_b = data_json(costs_b, B_CSV, B_IDS, B_PERIODS, B_START, sim_b, B_SD_U, !b_uses_u0, list(
      screening = list(
        rule = paste("the draw with u ~ N(0, 0.05^2) was fitted (REML, (1 | cluster));",
                     "if its cluster SD theta was not exactly 0, the cluster effect was set",
                     "to 0 (u = 0, all other draws unchanged) and that cost column written"),
        theta_with_u = jnum(screen_theta),
        cluster_effect_set_to_zero = b_uses_u0,
        theta_written_data = jnum(b_theta),
        singular_written_data = b_singular)))
  ),
  fit_procedure = list(
    lmer = paste("1. tight fit: lme4::lmer(formula, data, REML, control =", LMER_CONTROL_TXT,
                 "); devfun = the same call with devFunOnly = TRUE (lme4's profiled deviance",
                 "or REML criterion as a function of theta). 2. polish (interior theta only):",
                 "Newton steps on the exact profiled criterion over theta (gradient and",
                 "Hessian from lmm_exact, sigma profiled) while max |gradient| decreases",
                 "(stop below 1e-10, at most 10 steps). 3. final fit: lmer refitted with",
                 FINAL_CONTROL_TXT, "so that every reported number belongs to the polished",
                 "theta; the tight fit is kept under each case's polish.tight_fit"),
    lmerTest = paste("lt <- lmerTest::as_lmerModLmerTest(fit) (tol = 1e-8); summary(lt) gives",
                     "the Satterthwaite table; lmerTest::contest(lt, L, joint = FALSE / TRUE)",
                     "for the treatment contrast; the Hessian is recomputed exactly as lmerTest",
                     "does: numDeriv::hessian(lmerTest:::devfun_vp, varpar, devfun = devfun,",
                     "reml = REML) (default Richardson settings)"),
    exact = paste("independent dense implementation in cost_models.R (lmm_exact): the",
                  "deviance over varpar, its gradient and Hessian, C(varpar) and its",
                  "Jacobian, from closed-form derivatives (no numerical differentiation)"),
    glm = paste("glm(cost ~ treated + factor(period) + age, family = Gamma(link = 'log'),",
                "control = glm.control(epsilon = 1e-14, maxit = 200)), then refitted from its",
                "coefficients until they change by <= 1e-14 relative (polishing)"),
    glmmTMB = paste("glmmTMB(cost ~ treated + factor(period) + age + (1 | cluster),",
                    "family = Gamma(link = 'log'), control = glmmTMBControl(optimizer =",
                    "polish_nlminb, parallel = 1)): nlminb, then Newton steps on TMB's exact",
                    "outer gradient (Hessian = numDeriv::jacobian of it) while max |gradient|",
                    "decreases; sdreport is then taken at the polished point")
  ),
  definitions = list(
    data = "start_period[k] = first treated period of cluster k in cluster_labels order (null = never treated); patients_per_cluster_period = counts cluster-major (first cluster periods 1..P, then the next); cluster_effects_u / cluster_period_effects_v = the realised u and v draws (v cluster-major); cost_uses_u = whether the written costs contain u (false for costs_b, whose cluster effect was set to 0, see screening); truth = data-generating parameters on the log scale (gamma_shape = shape of the multiplicative mean-1 noise)",
    terms = "fixed-effect names, the order of beta and of every beta-sized vector / matrix: (Intercept), treated, factor(period)2..P, age",
    theta = "lme4 getME(fit, 'theta'): random-intercept SDs relative to the residual SD, in theta_names order. lme4 orders random-effect terms by decreasing number of levels, so for the nested model theta = (cluster:period, cluster)",
    sigma = "sigma(fit): residual SD. REML: sqrt(pwrss / (n - p)); ML: sqrt(pwrss / n)",
    random_effect_sd = "as.data.frame(VarCorr(fit))$sdcor for the groups random_effect_sd_groups (theta order) = theta * sigma",
    fixef = "fixef(fit)",
    se = "sqrt(diag(vcov(fit))); for lmer vcov(fit) = sigma^2 (X'V^-1X)^-1 exactly at the estimates",
    criterion = "REML fits: REMLcrit(fit) (the REML criterion, -2 x REML log-likelihood); ML fits: deviance(fit) = -2 logLik and AIC(fit)",
    loglik = "as.numeric(logLik(fit)): for REML fits the REML log-likelihood (-REMLcrit/2), for ML fits the log-likelihood; loglik_df = attr(logLik(fit), 'df') = p + length(theta) + 1",
    singular = "lme4::isSingular(fit) (some theta on its lower bound 0, tol 1e-4)",
    satterthwaite = "summary(lmerTest::as_lmerModLmerTest(fit))$coefficients, one entry per term: Estimate, Std. Error, df (Satterthwaite), t value, Pr(>|t|) = 2 pt(-|t|, df)",
    satterthwaite_formula = "varpar = (theta, sigma). C(varpar) = sigma^2 (X'V(theta)^-1 X)^-1 with V(theta) = I + sum_j theta_j^2 Z_j Z_j' (the covariance of y in sigma^2 units; the covariance of the GLS estimate of beta). dev(varpar) = lmerTest:::devfun_vp: the ML deviance log|V| + q/sigma^2 + n log(2 pi sigma^2), q = min_beta (y - X beta)'V^-1(y - X beta), plus for REML log|X'V^-1X| - p log(2 pi sigma^2). h = numDeriv::hessian(dev, varpar); A = 2 h^-1 (the asymptotic covariance of varpar). For a contrast L: var = L'C L, g_k = L' (dC/dvarpar_k) L (the Jacobian, numDeriv::jacobian of C), df = 2 var^2 / (g'A g), t = L'beta / sqrt(var), p = 2 pt(-|t|, df)",
    treatment_contrast = "lmerTest::contest(lt, L, joint = FALSE) (t-test: estimate, se, df, t, p) and contest(lt, L, joint = TRUE) (F = t^2, num_df = 1, den_df = df, p) for L = indicator of 'treated'",
    lmerTest_ingredients = "varpar = c(lt@theta, lt@sigma) (varpar_names order); deviance_at_varpar = lmerTest:::devfun_vp(varpar) (= REMLcrit / deviance); hessian = numDeriv::hessian of devfun_vp at varpar, computed as lmerTest computes it (lmerTest does not keep it); hessian_eigenvalues = its eigenvalues (decreasing); vcov_varpar = lt@vcov_varpar = A = 2 x the inverse of hessian over its eigenvalues > 1e-8 (a pseudo-inverse; equal to 2 solve(hessian) when all are positive); vcov_beta = lt@vcov_beta = vcov(fit); jacobian = lt@Jac_list: one p x p matrix dC/dvarpar_k per varpar component (varpar order), numDeriv::jacobian of C(varpar) = sigma^2 tcrossprod(RXi) from lme4's devfun environment",
    exact = "the same ingredients from closed-form derivatives (lmm_exact in cost_models.R): with W = V^-1, M = X'WX, P = W - WXM^-1X'W, e = Py, D_j = 2 theta_j Z_j Z_j', T = W (ML) or P (REML), m = n (ML) or n - p (REML): d dev/d theta_j = tr(T D_j) - e'D_j e/sigma^2; d2 dev/d theta_j d theta_l = [j = l] 2 tr(Z_j'T Z_j) - tr(T D_l T D_j) + (2 e'D_l P D_j e - [j = l] 2 e'Z_j Z_j'e)/sigma^2; d dev/d sigma = 2m/sigma - 2q/sigma^3; d2/d sigma2 = -2m/sigma^2 + 6q/sigma^4; d2 dev/d theta_j d sigma = 2 e'D_j e/sigma^3; dC/d theta_j = sigma^2 M^-1 X'W D_j W X M^-1; dC/d sigma = 2 sigma M^-1. vcov_varpar = 2 solve(hessian); satterthwaite.{se,df,t,p_value} use these exact ingredients",
    polish_lmm = "tight_fit = the lmer fit with the tight bobyqa control: its theta, sigma, fixef, criterion, bobyqa convergence code (fit@optinfo$conv$opt, 0 = success), number of deviance evaluations, lme4 messages, devfun_gradient_theta (numDeriv::grad of devfun over theta) and exact_gradient_theta (lmm_exact's gradient of the profiled criterion); newton_steps = each Newton step (max |exact gradient| before / after, max |step|, change of the exact criterion); *_change = final minus tight",
    checks_lmm = "all at the final (polished) estimate. devfun_gradient_theta = numDeriv::grad of devfun over theta (not computed on the boundary; numDeriv noise on lme4's devfun is up to ~3e-6); exact_max_abs_gradient = max |gradient of dev over varpar| from lmm_exact; boundary_devfun_slope_in_theta_squared = (devfun(theta with theta_j = 1e-4) - devfun(theta)) / 1e-8, the one-sided slope of the profiled criterion in theta_j^2 at 0 (> 0: the boundary is a genuine constrained minimum); boundary_exact_slope_in_theta_squared = its exact value tr(T Z_j Z_j') - e'Z_j Z_j'e / sigma^2; *_vs_exact_* compare lmerTest's numerical ingredients with lmm_exact's; max_rel_diff(a, b) = max |a - b| / max |a| (null where a = 0)",
    glm_gamma = "coefficients, se, t, p_value = summary(fit)$coefficients; vcov = vcov(fit) = dispersion x (X'WX)^-1; dispersion = summary(fit)$dispersion = Pearson chi^2 / df_residual = sum(((y - mu)/mu)^2) / (n - p); deviance = sum of 2 (-log(y/mu) + (y - mu)/mu)",
    glm_gamma_loglik = "R's logLik.glm for the Gamma family: loglik = sum_i log dgamma(y_i, shape = 1/phi, scale = mu_i phi) with phi = deviance / n (loglik_dispersion; Gamma()$aic uses dev/sum(weights)), NOT the Pearson dispersion and NOT the ML shape; loglik_df = rank + 1 (the dispersion is counted); AIC = -2 loglik + 2 loglik_df. ml_shape = the maximum-likelihood shape a at the fitted means, solving log(a) - digamma(a) = deviance / (2n); loglik_at_ml_shape = the log-likelihood there (for comparison only; R does not report it)",
    glmm_gamma = "glmmTMB Gamma log link: y | u ~ Gamma(shape = a, scale = mu / a), log mu = x'beta + u_cluster, u ~ N(0, cluster_sd^2). par = (beta, betad, theta) with betad = log(a) and theta = log(cluster_sd) (glmmTMB's internal parameters); sigma = sigma(fit) = exp(-betad/2) = 1/sqrt(shape), the coefficient of variation of y given u (NOT the shape, NOT a log-scale SD); shape = exp(betad) = 1/sigma^2; cluster_sd = attr(VarCorr(fit)$cond$cluster, 'stddev'); fixef/se/vcov = fixef(fit)$cond and vcov(fit)$cond (sdreport: inverse Hessian of the Laplace negative log-likelihood over par, beta block); vcov_par = fit$sdr$cov.fixed over par; loglik = logLik(fit) (Laplace), loglik_df = length(par); conditional_modes = ranef(fit)$cond$cluster in cluster_labels order",
    checks_glmm = "gradient = TMB's exact outer gradient of the negative Laplace log-likelihood over par at the estimate; laplace_recomputed_minus_loglik = an independent per-cluster Laplace approximation (exact Newton mode, exact curvature a sum y/mu + 1/s^2) minus logLik(fit); default_fit = glmmTMB with its default nlminb only, for comparison"
  ),
  notes = jstr(notes),
  cases = list(
    lmm_reml_cluster_a = lmm_fits$lmm_reml_cluster_a$json,
    lmm_ml_cluster_a = lmm_fits$lmm_ml_cluster_a$json,
    lmm_reml_nested_a = lmm_fits$lmm_reml_nested_a$json,
    lmm_ml_nested_a = lmm_fits$lmm_ml_nested_a$json,
    lmm_reml_cluster_b = lmm_fits$lmm_reml_cluster_b$json,
    glm_gamma_log_a = glm_json,
    glmm_gamma_log_a = tmb_json
  )
)

write_reference_json(out, "cost_models.json")
cat("wrote cost_models.json; costs_b singular:", b_singular, "\n")
