# Reference values for marginal standardisation (g-computation) and
# cluster-bootstrap intervals in the stepwedge crate.
#
# Run from this directory:
#   cd tests/reference && Rscript marginal_reference.R
#
# (a) simulates one stepped-wedge cohort (set.seed(20261126)) and writes it to
#     data/marginal/cohort.csv; everything below uses the data as read back;
# (b) case "glm_logit": logistic GLM, standardised risks r1/r0, RR, RD for the
#     targets all / treated / own_home, delta-method CIs with the model and the
#     CR1 cluster-robust covariance, cluster bootstrap (B = 300) with
#     percentile and BCa (leave-one-cluster-out jackknife) intervals;
# (c) case "glm_interaction": treated * own_home GLM, subgroup odds ratios,
#     interaction Wald test, standardised risks in own_home / not_own_home;
# (d) case "glmm_logit": lme4::glmer random-intercept logistic model,
#     marginal (integrated over the random intercept) and conditional
#     (random effect 0) standardised risks with delta-method CIs from the
#     Laplace Hessian over (beta, sigma), cluster bootstrap (B = 60) of the
#     marginal risks (refits maximise the same Laplace log-likelihood directly
#     by Newton steps, certified against lme4's devfun; see refit_procedure);
# (e) case "glmm_poisson_marginal_closed_form": numerical check of
#     E exp(eta + sigma Z) = exp(eta + sigma^2 / 2).
# It writes marginal_reference.json and data/marginal/draws_<case>.csv (the
# fixed bootstrap replicate sets). The output is deterministic: rerunning
# reproduces every file byte for byte (elapsed times are printed, not saved).

suppressPackageStartupMessages({
  library(stats)
  library(lme4)
  library(sandwich)
  library(numDeriv)
  library(boot)
  library(jsonlite)
})
source("json_helpers.R")

options(digits = 15, warn = 1)
DATA_DIR <- file.path("data", "marginal")
dir.create(DATA_DIR, recursive = TRUE, showWarnings = FALSE)

run_times <- list()
timed_part <- function(label, expr) {
  t0 <- proc.time()[["elapsed"]]
  val <- expr
  run_times[[label]] <<- proc.time()[["elapsed"]] - t0
  cat(sprintf("[%s] %.1f s\n", label, run_times[[label]]))
  val
}
t_script <- proc.time()[["elapsed"]]

Z975 <- qnorm(0.975)
LEVEL <- 0.95
fmt_e <- function(x) formatC(x, format = "e", digits = 3)

# ---------------------------------------------------------------------------
# (a) simulation
# ---------------------------------------------------------------------------
DATA_SEED <- 20261126L
N_CLUSTERS <- 14L
N_PERIODS <- 5L
CLUSTERS <- sprintf("M%02d", seq_len(N_CLUSTERS))
START_PERIOD <- 2L + as.integer(floor((seq_len(N_CLUSTERS) - 1) * 4 / N_CLUSTERS))

simulate_cohort <- function() {
  set.seed(DATA_SEED)
  cp <- expand.grid(period = seq_len(N_PERIODS), k = seq_len(N_CLUSTERS))
  cp <- cp[, c("k", "period")]
  cp$n <- pmax(5L, rpois(nrow(cp), 22))
  u <- rnorm(N_CLUSTERS, 0, 0.35)
  rows <- cp[rep(seq_len(nrow(cp)), cp$n), c("k", "period")]
  n <- nrow(rows)
  d <- data.frame(cluster = CLUSTERS[rows$k], period = rows$period,
                  treated = as.integer(rows$period >= START_PERIOD[rows$k]))
  d$own_home <- rbinom(n, 1, 0.45)
  d$age <- round(rnorm(n, 84, 6), 1)
  eta <- -1.9 - 0.45 * d$treated + 0.05 * (d$period - 1) - 0.5 * d$own_home +
    0.04 * (d$age - 84) + 0.35 * d$treated * d$own_home + u[rows$k]
  d$death30 <- rbinom(n, 1, plogis(eta))
  rownames(d) <- NULL
  d
}

COHORT_FILE <- file.path(DATA_DIR, "cohort.csv")
invisible(timed_part("simulate", write.csv(simulate_cohort(), COHORT_FILE, row.names = FALSE)))
dat <- read.csv(COHORT_FILE)
stopifnot(identical(names(dat), c("cluster", "period", "treated", "own_home",
                                  "age", "death30")),
          identical(sort(unique(dat$cluster)), CLUSTERS),
          all(dat$treated %in% 0:1), all(dat$own_home %in% 0:1),
          all(dat$death30 %in% 0:1))
G <- length(CLUSTERS)

# ---------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------
TARGETS <- list(
  all = function(d) rep(TRUE, nrow(d)),
  treated = function(d) d$treated == 1,
  own_home = function(d) d$own_home == 1,
  not_own_home = function(d) d$own_home == 0
)
TARGET_TEXT <- list(
  all = "every row used in the fit",
  treated = "rows with treated == 1 in the data (ATT)",
  own_home = "rows with own_home == 1",
  not_own_home = "rows with own_home == 0"
)

# Fixed-effect design rows with treated := a (interaction columns recomputed).
# d is always the full data the model was fitted on, so every factor level of
# the fit is present; xlev pins the levels anyway.
design_with <- function(rhs, d, a, xlev = NULL) {
  d$treated <- a
  tt <- delete.response(terms(rhs))
  mf <- model.frame(tt, d, xlev = xlev, na.action = na.fail)
  model.matrix(tt, mf)
}

# Percentile and BCa intervals for one statistic (see definitions).
boot_intervals <- function(tb, t_hat, t_jack) {
  ok <- !is.na(tb)
  tb <- tb[ok]
  zk <- qnorm(c(0.025, 0.975))
  perc <- quantile(tb, c(0.025, 0.975), type = 7, names = FALSE)
  z0 <- qnorm(mean(tb < t_hat))
  tbar <- mean(t_jack)
  dev <- tbar - t_jack
  acc <- sum(dev^3) / (6 * sum(dev^2)^1.5)
  alpha <- pnorm(z0 + (z0 + zk) / (1 - acc * (z0 + zk)))
  bca <- if (all(is.finite(alpha))) quantile(tb, alpha, type = 7, names = FALSE) else c(NA, NA)
  list(t_hat = t_hat, n_used = length(tb), z0 = z0, a = acc, alpha = alpha,
       percentile = perc, bca = bca,
       n_below = sum(tb < t_hat), n_equal = sum(tb == t_hat))
}

# Cross-check with the boot package on the same replicates: boot.ci with the
# jackknife influence values L = (G - 1) (tbar - t_(g)). boot interpolates its
# quantiles on the normal scale (norm.inter), not quantile(type = 7).
boot_pkg_intervals <- function(tmat, t0, jack_mat) {
  ok <- stats::complete.cases(tmat)
  bo <- structure(list(t0 = t0, t = tmat[ok, , drop = FALSE], R = sum(ok),
                       data = data.frame(g = seq_len(G)), seed = NULL,
                       statistic = function(d, i) NULL, sim = "ordinary",
                       call = quote(boot(data = d, statistic = s, R = B)),
                       stype = "i", strata = rep(1, G),
                       weights = rep(1 / G, G)), class = "boot")
  out <- list()
  warns <- character(0)
  for (j in seq_along(t0)) {
    L <- (G - 1) * (mean(jack_mat[, j]) - jack_mat[, j])
    ci <- withCallingHandlers(
      boot.ci(bo, conf = LEVEL, type = c("perc", "bca"), index = j, L = L),
      warning = function(w) {
        warns <<- c(warns, paste0(names(t0)[j], ": ", conditionMessage(w)))
        invokeRestart("muffleWarning")
      })
    out[[names(t0)[j]]] <- list(percentile = ci$percent[1, 4:5], bca = ci$bca[1, 4:5])
  }
  list(intervals = out, warnings = unique(warns))
}

interval_json <- function(iv, bp) {
  list(t_hat = jnum(iv$t_hat), n_used = iv$n_used, n_below_t_hat = iv$n_below,
       n_equal_t_hat = iv$n_equal, z0 = jnum(iv$z0), a = jnum(iv$a),
       alpha = jvec(iv$alpha), percentile = jvec(iv$percentile), bca = jvec(iv$bca),
       boot_package = list(percentile = jvec(bp$percentile), bca = jvec(bp$bca)))
}

# Delta-method intervals from r1, r0 and their gradients over psi.
delta_cis <- function(r1, r0, g1, g0, V, q) {
  se1 <- sqrt(drop(t(g1) %*% V %*% g1))
  se0 <- sqrt(drop(t(g0) %*% V %*% g0))
  glrr <- g1 / r1 - g0 / r0
  grd <- g1 - g0
  se_lrr <- sqrt(drop(t(glrr) %*% V %*% glrr))
  se_rd <- sqrt(drop(t(grd) %*% V %*% grd))
  rr <- r1 / r0
  list(q = q, se_r1 = se1, se_r0 = se0, se_log_RR = se_lrr, se_RD = se_rd,
       r1_ci = exp(log(r1) + c(-1, 1) * q * se1 / r1),
       r0_ci = exp(log(r0) + c(-1, 1) * q * se0 / r0),
       RR_ci = exp(log(rr) + c(-1, 1) * q * se_lrr),
       RD_ci = (r1 - r0) + c(-1, 1) * q * se_rd)
}
delta_json <- function(x, vcov_label, q_text) {
  list(vcov = vcov_label, q = jnum(x$q), q_definition = q_text,
       se_r1 = jnum(x$se_r1), se_r0 = jnum(x$se_r0),
       se_log_RR = jnum(x$se_log_RR), se_RD = jnum(x$se_RD),
       r1_ci = jvec(x$r1_ci), r0_ci = jvec(x$r0_ci),
       RR_ci = jvec(x$RR_ci), RD_ci = jvec(x$RD_ci))
}

# Fixed bootstrap replicate set: B x G matrix of 1-based cluster indices.
make_draws <- function(case, seed, B) {
  set.seed(seed)
  draws <- t(vapply(seq_len(B), function(b) sample.int(G, G, replace = TRUE),
                    integer(G)))
  path <- file.path(DATA_DIR, paste0("draws_", case, ".csv"))
  write.table(draws, path, sep = ",", row.names = FALSE, col.names = FALSE)
  back <- unname(as.matrix(read.csv(path, header = FALSE)))
  storage.mode(back) <- "integer"
  stopifnot(identical(dim(back), c(B, G)), all(back == draws))
  list(draws = back, path = path)
}

# Replicate b's data: position j holds the rows of cluster draws[b, j],
# relabelled "b<j>" so that repeated clusters are distinct clusters.
replicate_data <- function(d, idx) {
  parts <- lapply(seq_along(idx), function(j) {
    x <- d[d$cluster == CLUSTERS[idx[j]], , drop = FALSE]
    x$cluster <- paste0("b", j)
    x
  })
  out <- do.call(rbind, parts)
  rownames(out) <- NULL
  out
}

STAT_NAMES <- c("r1", "r0", "RR", "RD")
stats4 <- function(r1, r0) c(r1 = r1, r0 = r0, RR = r1 / r0, RD = r1 - r0)

# ---------------------------------------------------------------------------
# GLM helpers
# ---------------------------------------------------------------------------
GLM_CONTROL_TXT <- "glm.control(epsilon = 1e-14, maxit = 200), then polished"
fit_glm <- function(formula, d) {
  do_fit <- function(st) {
    glm(formula, family = binomial, data = d, start = st,
        control = glm.control(epsilon = 1e-14, maxit = 200))
  }
  fit0 <- do_fit(NULL)
  fit <- fit0
  n_polish <- 0L
  repeat {
    fit_new <- do_fit(unname(coef(fit)))
    delta <- max(abs(coef(fit_new) - coef(fit)))
    fit <- fit_new
    n_polish <- n_polish + 1L
    if (delta <= 1e-14 * max(1, abs(coef(fit))) || n_polish >= 50L) break
  }
  if (anyNA(coef(fit))) stop("aliased coefficient")
  list(fit = fit, converged = fit$converged && fit0$converged,
       iter = fit0$iter, polish_refits = n_polish, polish_last_change = delta)
}

# Standardised risks of a logistic GLM (no random effects) for one target.
glm_standardise <- function(fit, d, rhs, target_rows) {
  beta <- coef(fit)
  out <- list()
  for (a in c(1, 0)) {
    X <- design_with(rhs, d, a, fit$xlevels)[target_rows, , drop = FALSE]
    stopifnot(identical(colnames(X), names(beta)))
    eta <- drop(X %*% beta)
    r <- mean(plogis(eta))
    grad <- colMeans(dlogis(eta) * X)   # analytic: mean of h'(eta) x
    num <- grad(function(b) mean(plogis(drop(X %*% b))), beta)
    out[[paste0("a", a)]] <- list(r = r, grad = grad,
                                  grad_check = max(abs(num - grad)))
  }
  out
}

glm_target_json <- function(st, target, n_target, deltas) {
  r1 <- st$a1$r
  r0 <- st$a0$r
  list(target = target, target_definition = TARGET_TEXT[[target]],
       n_target = n_target,
       r1 = jnum(r1), r0 = jnum(r0), RR = jnum(r1 / r0), log_RR = jnum(log(r1 / r0)),
       RD = jnum(r1 - r0), grad_r1 = jvec(st$a1$grad), grad_r0 = jvec(st$a0$grad),
       gradient_method = "analytic: mean over T of h'(x_i(a)' beta) x_i(a)",
       gradient_max_abs_diff_vs_numDeriv = jnum(max(st$a1$grad_check, st$a0$grad_check)),
       delta = deltas)
}

# Bootstrap (fixed draws) + jackknife for a statistic function of a data set.
run_bootstrap <- function(draws, stat_fun) {
  B <- nrow(draws)
  reps <- vector("list", B)
  for (b in seq_len(B)) {
    rd <- replicate_data(dat, draws[b, ])
    reps[[b]] <- tryCatch(stat_fun(rd), error = function(e) {
      list(error = conditionMessage(e))
    })
  }
  jack <- vector("list", G)
  for (g in seq_len(G)) {
    jack[[g]] <- stat_fun(dat[dat$cluster != CLUSTERS[g], , drop = FALSE])
  }
  list(reps = reps, jack = jack)
}

bootstrap_json <- function(case, dr, seed, bs, t_hat, estimator_text, extra = list()) {
  B <- nrow(dr$draws)
  failed <- vapply(bs$reps, function(r) !is.null(r$error), TRUE)
  tmat <- t(vapply(bs$reps, function(r) {
    if (is.null(r$error)) r$stats else rep(NA_real_, 4)
  }, numeric(4)))
  colnames(tmat) <- STAT_NAMES
  jmat_ <- t(vapply(bs$jack, function(r) r$stats, numeric(4)))
  colnames(jmat_) <- STAT_NAMES
  ivs <- lapply(STAT_NAMES, function(s) boot_intervals(tmat[, s], t_hat[[s]], jmat_[, s]))
  names(ivs) <- STAT_NAMES
  bp <- boot_pkg_intervals(tmat, unlist(t_hat[STAT_NAMES]), jmat_)
  intervals <- lapply(STAT_NAMES, function(s) interval_json(ivs[[s]], bp$intervals[[s]]))
  names(intervals) <- STAT_NAMES
  failures <- lapply(which(failed), function(b) list(replicate = b, reason = bs$reps[[b]]$error))
  c(list(
    draws_file = dr$path,
    draws_layout = "no header; B rows of G comma-separated 1-based indices into clusters (sorted labels)",
    draws_seed = seed,
    B = B, G = G, target = "all", estimator = estimator_text,
    t_hat = lapply(t_hat[STAT_NAMES], jnum),
    n_ok = sum(!failed), n_failed = sum(failed), failures = failures,
    replicates = lapply(setNames(STAT_NAMES, STAT_NAMES), function(s) jvec(tmat[, s])),
    jackknife = c(list(omitted_cluster = jstr(CLUSTERS)),
                  lapply(setNames(STAT_NAMES, STAT_NAMES), function(s) jvec(jmat_[, s]))),
    intervals = intervals,
    boot_package_warnings = jstr(bp$warnings)
  ), extra)
}

# ---------------------------------------------------------------------------
# (b) glm_logit
# ---------------------------------------------------------------------------
F_MAIN <- death30 ~ treated + factor(period) + own_home + age
RHS_MAIN <- ~ treated + factor(period) + own_home + age

case_glm_logit <- function() {
  gf <- fit_glm(F_MAIN, dat)
  fit <- gf$fit
  beta <- coef(fit)
  p <- length(beta)
  stopifnot(max(abs(design_with(RHS_MAIN, dat, dat$treated, fit$xlevels) -
                      model.matrix(fit))) == 0)
  V_model <- vcov(fit)
  V_cr1 <- unclass(vcovCL(fit, cluster = dat$cluster, type = "HC1", cadjust = TRUE))
  V_cr1 <- matrix(as.numeric(V_cr1), p, p, dimnames = dimnames(V_cr1))
  stopifnot(identical(rownames(V_cr1), names(beta)))
  q_t <- qt(0.975, G - 1)
  std <- list()
  for (tg in c("all", "treated", "own_home")) {
    rows <- TARGETS[[tg]](dat)
    st <- glm_standardise(fit, dat, RHS_MAIN, rows)
    dm <- delta_cis(st$a1$r, st$a0$r, st$a1$grad, st$a0$grad, V_model, Z975)
    dc <- delta_cis(st$a1$r, st$a0$r, st$a1$grad, st$a0$grad, V_cr1, q_t)
    std[[tg]] <- glm_target_json(st, tg, sum(rows), list(
      model = delta_json(dm, "model", "qnorm(0.975)"),
      CR1 = delta_json(dc, "CR1", "qt(0.975, G - 1)")))
  }
  full_all <- glm_standardise(fit, dat, RHS_MAIN, TARGETS$all(dat))
  t_hat <- as.list(stats4(full_all$a1$r, full_all$a0$r))

  stat_fun <- function(d) {
    g <- fit_glm(F_MAIN, d)
    if (!g$converged) stop("glm did not converge")
    b <- coef(g$fit)
    r1 <- mean(plogis(drop(design_with(RHS_MAIN, d, 1, g$fit$xlevels) %*% b)))
    r0 <- mean(plogis(drop(design_with(RHS_MAIN, d, 0, g$fit$xlevels) %*% b)))
    list(stats = stats4(r1, r0), coef = b)
  }
  DRAW_SEED <- 20261127L
  dr <- make_draws("glm_logit", DRAW_SEED, 300L)
  bs <- timed_part("glm_logit bootstrap (300 fits + 14 jackknife)", run_bootstrap(dr$draws, stat_fun))
  coef_mat <- t(vapply(bs$reps, function(r) if (is.null(r$error)) r$coef else rep(NA_real_, p),
                       numeric(p)))
  boot_part <- bootstrap_json("glm_logit", dr, DRAW_SEED, bs, t_hat,
    "GLM refitted on the replicate data (same formula, glm.control(epsilon = 1e-14, maxit = 200), polished); r_a = mean over all replicate rows of plogis(x_i(a)' beta_b)",
    extra = list(replicate_coefficients = jmat(coef_mat),
                 jackknife_coefficients = jmat(t(vapply(bs$jack, `[[`, numeric(p), "coef")))))

  list(
    formula = deparse(F_MAIN), family = "binomial", link = "logit",
    fit = list(control = GLM_CONTROL_TXT, converged = gf$converged, iter = gf$iter,
               polish_refits = gf$polish_refits,
               polish_last_max_coef_change = jnum(gf$polish_last_change),
               n_obs = nrow(dat), n_clusters = G,
               loglik = jnum(as.numeric(logLik(fit)))),
    terms = jstr(names(beta)),
    coefficients = jvec(beta),
    std_errors = jvec(sqrt(diag(V_model))),
    vcov = list(model = jmat(V_model), CR1 = jmat(V_cr1)),
    vcov_definitions = list(
      model = "vcov(fit)",
      CR1 = "sandwich::vcovCL(fit, cluster = data$cluster, type = \"HC1\", cadjust = TRUE) = G/(G-1) * (n-1)/(n-p) * sum_g U_g U_g' sandwiched by the model bread"),
    standardisation = std,
    bootstrap = boot_part
  )
}
res_glm_logit <- timed_part("glm_logit total", case_glm_logit())

# ---------------------------------------------------------------------------
# (c) glm_interaction
# ---------------------------------------------------------------------------
F_INT <- death30 ~ treated * own_home + factor(period) + age
RHS_INT <- ~ treated * own_home + factor(period) + age

case_glm_interaction <- function() {
  gf <- fit_glm(F_INT, dat)
  fit <- gf$fit
  beta <- coef(fit)
  V <- vcov(fit)
  stopifnot("treated:own_home" %in% names(beta),
            max(abs(design_with(RHS_INT, dat, dat$treated, fit$xlevels) -
                      model.matrix(fit))) == 0)
  sc <- summary(fit)$coefficients
  coef_rows <- lapply(rownames(sc), function(t) list(
    term = t, estimate = jnum(sc[t, 1]), std_error = jnum(sc[t, 2]),
    z = jnum(sc[t, 3]), p_value = jnum(sc[t, 4])))
  it <- "treated:own_home"
  L0 <- setNames(numeric(length(beta)), names(beta)); L0["treated"] <- 1
  L1 <- L0; L1[it] <- 1
  sub_or <- function(L, label, text) {
    est <- sum(L * beta)
    se <- sqrt(drop(t(L) %*% V %*% L))
    list(subgroup = label, definition = text, log_OR = jnum(est), se_log_OR = jnum(se),
         OR = jnum(exp(est)), OR_ci = jvec(exp(est + c(-1, 1) * Z975 * se)))
  }
  z_int <- beta[[it]] / sqrt(V[it, it])
  std <- list()
  for (tg in c("own_home", "not_own_home")) {
    rows <- TARGETS[[tg]](dat)
    st <- glm_standardise(fit, dat, RHS_INT, rows)
    dm <- delta_cis(st$a1$r, st$a0$r, st$a1$grad, st$a0$grad, V, Z975)
    std[[tg]] <- glm_target_json(st, tg, sum(rows),
                                 list(model = delta_json(dm, "model", "qnorm(0.975)")))
  }
  list(
    formula = deparse(F_INT), family = "binomial", link = "logit",
    fit = list(control = GLM_CONTROL_TXT, converged = gf$converged, iter = gf$iter,
               polish_refits = gf$polish_refits,
               polish_last_max_coef_change = jnum(gf$polish_last_change),
               n_obs = nrow(dat), n_clusters = G,
               loglik = jnum(as.numeric(logLik(fit)))),
    terms = jstr(names(beta)),
    interaction_term = it,
    coefficients = coef_rows,
    vcov = list(model = jmat(V)),
    subgroup_odds_ratios = list(
      own_home_0 = sub_or(L0, "own_home == 0", "exp(b_treated); Wald CI exp(b +- qnorm(0.975) se), se from vcov(fit)"),
      own_home_1 = sub_or(L1, "own_home == 1", "exp(b_treated + b_treated:own_home); se^2 = V[t,t] + V[i,i] + 2 V[t,i] from vcov(fit)")),
    interaction_test = list(term = it, estimate = jnum(beta[[it]]),
                            std_error = jnum(sqrt(V[it, it])), z = jnum(z_int),
                            p_value = jnum(2 * pnorm(-abs(z_int)))),
    standardisation = std
  )
}
res_glm_interaction <- timed_part("glm_interaction total", case_glm_interaction())

# ---------------------------------------------------------------------------
# (d) glmm_logit
# ---------------------------------------------------------------------------
F_GLMM <- death30 ~ treated + factor(period) + own_home + age + (1 | cluster)
RHS_GLMM <- ~ treated + factor(period) + own_home + age
GLMER_CONTROL_TXT <- paste0(
  'glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5), ',
  'tolPwrss = 1e-12)')
glmer_control <- function(init_step = TRUE) {
  glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-10, maxfun = 1e5),
               tolPwrss = 1e-12, nAGQ0initStep = init_step)
}

# Gauss-Hermite rule for the standard normal: Golub-Welsch nodes refined by
# Newton steps on the orthonormal Hermite polynomial, Christoffel weights
# 1 / sum_k p_k(t)^2 (orthonormal probabilists' Hermite p_k).
gh_normal <- function(n) {
  J <- matrix(0, n, n)
  off <- sqrt(seq_len(n - 1))
  J[cbind(1:(n - 1), 2:n)] <- off
  J[cbind(2:n, 1:(n - 1))] <- off
  t <- sort(eigen(J, symmetric = TRUE, only.values = TRUE)$values)
  polys <- function(t) {  # p_0..p_n at t (columns)
    P <- matrix(0, length(t), n + 1)
    P[, 1] <- 1
    P[, 2] <- t
    for (k in 1:(n - 1)) P[, k + 2] <- (t * P[, k + 1] - sqrt(k) * P[, k]) / sqrt(k + 1)
    P
  }
  for (it in 1:3) {
    P <- polys(t)
    t <- t - P[, n + 1] / (sqrt(n) * P[, n])
  }
  t <- (t - rev(t)) / 2
  w <- 1 / rowSums(polys(t)[, 1:n]^2)
  w <- (w + rev(w)) / 2
  list(t = t, w = w)
}
GH_N <- 150L
GH <- gh_normal(GH_N)

# Marginal risk and its integrated derivatives, per row, by integrate():
#   m0 = E h(eta + sigma Z), m1 = E h'(eta + sigma Z), m2 = E[h'(eta + sigma Z) Z]
INT_REL_TOL <- 1e-13
int_parts <- function(eta, sigma) {
  ig <- function(f) integrate(f, -Inf, Inf, rel.tol = INT_REL_TOL, abs.tol = 0,
                              subdivisions = 1000L)$value
  t(vapply(eta, function(e) c(
    ig(function(z) plogis(e + sigma * z) * dnorm(z)),
    ig(function(z) dlogis(e + sigma * z) * dnorm(z)),
    ig(function(z) dlogis(e + sigma * z) * z * dnorm(z))), numeric(3)))
}
gh_parts <- function(eta, sigma) {
  E <- outer(eta, sigma * GH$t, "+")
  cbind(drop(plogis(E) %*% GH$w), drop(dlogis(E) %*% GH$w),
        drop(dlogis(E) %*% (GH$w * GH$t)))
}

# Exact-mode Laplace log-likelihood of the scalar random-intercept logit
# model: per cluster j, z_j = the mode of sum_i log f(y_i | x_i'beta + sigma z)
# - z^2/2 (Newton to full precision), then
#   ll = sum_i log f(y_i | eta_i) - sum_j z_j^2/2 - sum_j log(1 + sigma^2 sum_i w_i)/2,
# w_i = mu_i (1 - mu_i) at the mode. This is lme4's nAGQ = 1 criterion
# (-devfun/2; checked below at every optimum). The gradient over
# psi = (beta, sigma) is analytic (implicit differentiation of the modes).
laplace_setup <- function(d) {
  list(X = design_with(RHS_GLMM, d, d$treated), y = d$death30,
       g = as.integer(factor(d$cluster)), G = length(unique(d$cluster)))
}
laplace_eval <- function(S, psi, want_grad = TRUE) {
  p <- ncol(S$X)
  beta <- psi[1:p]
  s <- psi[p + 1]
  gi <- S$g
  e0 <- drop(S$X %*% beta)
  z <- numeric(S$G)
  for (it in 1:200) {
    mu <- plogis(e0 + s * z[gi])
    R <- rowsum(S$y - mu, gi, reorder = TRUE)[, 1]
    Sw <- rowsum(mu * (1 - mu), gi, reorder = TRUE)[, 1]
    step <- (s * R - z) / (1 + s^2 * Sw)
    z <- z + step
    if (max(abs(step)) <= 1e-15 * max(1, abs(z))) break
  }
  eta <- e0 + s * z[gi]
  mu <- plogis(eta)
  w <- mu * (1 - mu)
  Sw <- rowsum(w, gi, reorder = TRUE)[, 1]
  D <- 1 + s^2 * Sw
  ll <- sum(S$y * eta - log1p(exp(eta))) - 0.5 * sum(z^2) - 0.5 * sum(log(D))
  if (!want_grad) return(ll)
  R <- rowsum(S$y - mu, gi, reorder = TRUE)[, 1]
  w1 <- w * (1 - 2 * mu)
  W1 <- rowsum(w1, gi, reorder = TRUE)[, 1]
  WX <- rowsum(w * S$X, gi, reorder = TRUE)
  W1X <- rowsum(w1 * S$X, gi, reorder = TRUE)
  dz_db <- -s * WX / D                       # G x p
  dz_ds <- (R - s * Sw * z) / D              # G
  dD_db <- s^2 * (W1X + s * W1 * dz_db)      # G x p
  dD_ds <- 2 * s * Sw + s^2 * W1 * (z + s * dz_ds)
  gb <- drop(crossprod(S$X, S$y - mu)) - 0.5 * colSums(dD_db / D)
  gs <- sum(z * R) - 0.5 * sum(dD_ds / D)
  list(ll = ll, grad = c(gb, gs), z = z)
}
# Hessian of the Laplace log-likelihood for the Newton iterations: central
# differences of the analytic gradient (step 1e-5 max(1, |psi_k|)). Only the
# search direction depends on it; convergence is judged by the analytic gradient.
laplace_hess_cd <- function(S, psi, free) {
  k <- length(free)
  H <- matrix(0, k, k)
  for (j in seq_len(k)) {
    h <- 1e-5 * max(1, abs(psi[free[j]]))
    up <- psi; up[free[j]] <- up[free[j]] + h
    dn <- psi; dn[free[j]] <- dn[free[j]] - h
    H[, j] <- (laplace_eval(S, up)$grad[free] - laplace_eval(S, dn)$grad[free]) / (2 * h)
  }
  (H + t(H)) / 2
}

# Maximise the Laplace log-likelihood over psi = (beta, sigma) by Newton steps
# with step halving. sigma is kept positive by shortening any step that would
# take it below sigma/4 (or above 4 sigma + 1). If sigma falls below 1e-6 the
# fit is taken to be singular: sigma = 0 and beta is maximised alone (a GLM);
# this is accepted only if sigma = 0 is a local maximum along sigma
# (d2 ll / d sigma2 <= 0 there, the log-likelihood being even in sigma),
# otherwise the search restarts from sigma = 0.3.
laplace_maximise <- function(S, psi0, max_iter = 200L) {
  p <- ncol(S$X)
  run <- function(psi, free) {
    cur <- laplace_eval(S, psi)
    steps <- 0L
    last <- prev <- NA_real_
    for (it in seq_len(max_iter)) {
      g <- cur$grad[free]
      H <- laplace_hess_cd(S, psi, free)
      dir <- tryCatch(-solve(H, g), error = function(e) rep(NA_real_, length(free)))
      lam <- 1e-6 * max(abs(diag(H)))
      while (any(!is.finite(dir)) || sum(dir * g) <= 0) {   # not an ascent direction
        dir <- tryCatch(solve(-H + lam * diag(length(free)), g),
                        error = function(e) rep(NA_real_, length(free)))
        lam <- lam * 10
        if (lam > 1e12) stop("no ascent direction")
      }
      tstep <- 1
      if ((p + 1) %in% free) {
        ds <- dir[length(free)]
        sg <- psi[p + 1]
        if (sg + ds < sg / 4) tstep <- (-0.75 * sg) / ds
        if (sg + ds > 4 * sg + 1) tstep <- (3 * sg + 1) / ds
      }
      repeat {
        new <- psi
        new[free] <- psi[free] + tstep * dir
        nv <- laplace_eval(S, new)
        if (is.finite(nv$ll) && nv$ll >= cur$ll - 1e-9) break
        tstep <- tstep / 2
        if (tstep < 1e-10) stop("step halving failed")
      }
      psi <- new
      cur <- nv
      steps <- steps + 1L
      prev <- last
      last <- max(abs(tstep * dir))
      if ((p + 1) %in% free && psi[p + 1] < 1e-6) break   # -> singular fit
      # stop once the step is negligible, or once it no longer shrinks at the
      # rounding floor of the analytic gradient
      if (last <= 1e-11 * max(1, abs(psi))) break
      if (steps >= 3L && last < 1e-8 && last > 0.1 * prev) break
    }
    list(psi = psi, cur = cur, steps = steps, last = last)
  }
  sigma_curvature_at_0 <- function(psi) {
    h <- 1e-3
    up <- psi
    up[p + 1] <- h
    2 * (laplace_eval(S, up, FALSE) - laplace_eval(S, psi, FALSE)) / h^2
  }
  psi <- psi0
  psi[p + 1] <- abs(psi[p + 1])
  singular <- FALSE
  restarted <- FALSE
  total_steps <- 0L
  repeat {
    if (psi[p + 1] > 0) {
      r <- run(psi, 1:(p + 1))
      total_steps <- total_steps + r$steps
      if (r$psi[p + 1] >= 1e-6) break
      psi <- r$psi
    }
    psi[p + 1] <- 0
    r <- run(psi, 1:p)
    total_steps <- total_steps + r$steps
    curv <- sigma_curvature_at_0(r$psi)
    if (curv <= 0 || restarted) {
      singular <- TRUE
      break
    }
    restarted <- TRUE   # sigma = 0 is a minimum along sigma: look for the interior maximum
    psi <- r$psi
    psi[p + 1] <- 0.3
  }
  free <- if (singular) 1:p else 1:(p + 1)
  mag <- max(abs(r$cur$grad[free]))
  if (!is.finite(mag) || mag > 1e-6) stop(sprintf("Laplace maximisation did not converge (max |grad| %.3g)", mag))
  list(psi = r$psi, singular = singular, steps = total_steps, last_step = r$last,
       ll = r$cur$ll, max_abs_grad = mag, restarted = restarted,
       sigma_curvature_at_0 = if (singular) curv else NA_real_)
}

# Several starts (the first one is the given psi0, then the GLM coefficients of
# the data with sigma = 0.2 and 0.8); the optimum with the highest
# log-likelihood is returned, with the spread of the optima found.
laplace_multistart <- function(S, psi0) {
  p <- ncol(S$X)
  b_glm <- unname(glm.fit(S$X, S$y, family = binomial(),
                          control = glm.control(epsilon = 1e-12, maxit = 100))$coefficients)
  starts <- list(psi0, c(b_glm, 0.2), c(b_glm, 0.8))
  fits <- lapply(starts, function(st) tryCatch(laplace_maximise(S, st),
                                               error = function(e) NULL))
  okf <- Filter(Negate(is.null), fits)
  if (!length(okf)) stop("Laplace maximisation failed from every start")
  lls <- vapply(okf, `[[`, 0, "ll")
  best <- okf[[which.max(lls)]]
  best$n_starts_ok <- length(okf)
  best$start_ll_spread <- max(lls) - min(lls)
  best$start_psi_spread <- max(vapply(okf, function(f) max(abs(f$psi - best$psi)), 0))
  best
}

# lme4's stage-2 deviance function of c(theta, beta) (nAGQ = 1) for data d
lme4_devfun <- function(d, tol) {
  glmer(F_GLMM, data = d, family = binomial, nAGQ = 1, devFunOnly = TRUE,
        control = glmerControl(nAGQ0initStep = FALSE, tolPwrss = tol))
}

# Full-data fit: glmer with the tight control, then Newton polish.
fit_glmer_full <- function(d) {
  warns <- character(0)
  f <- withCallingHandlers(
    glmer(F_GLMM, data = d, family = binomial, nAGQ = 1, control = glmer_control()),
    warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { warns <<- c(warns, conditionMessage(m)); invokeRestart("muffleMessage") })
  S <- laplace_setup(d)
  stopifnot(max(abs(S$X - getME(f, "X"))) == 0, all(S$y == f@resp$y),
            all(S$g == as.integer(getME(f, "flist")[[1]])))
  psi_glmer <- c(fixef(f), sigma = unname(getME(f, "theta")))
  pol <- laplace_maximise(S, psi_glmer)
  list(fit = f, warnings = unique(c(warns, unlist(f@optinfo$conv$lme4$messages))),
       psi_glmer = psi_glmer, psi = setNames(pol$psi, names(psi_glmer)),
       singular = pol$singular, polish = pol, S = S)
}

# Replicate / jackknife refit: direct maximisation of the same Laplace
# log-likelihood from the full-data estimates, certified against lme4's devfun.
fit_laplace_refit <- function(d, psi_start) {
  S <- laplace_setup(d)
  m <- laplace_multistart(S, psi_start)
  p <- ncol(S$X)
  # certification against lme4's devfun; its PIRLS sometimes fails at
  # tolPwrss = 1e-14, then the default tolerance is used
  cert <- NULL
  for (tol in c(1e-14, 1e-12, 1e-7)) {
    cert <- tryCatch({
      df <- lme4_devfun(d, tol)
      ll_dev <- function(x) -df(c(x[p + 1], x[1:p])) / 2
      free <- if (m$singular) 1:p else 1:(p + 1)
      zero <- rep(0, p + 1)
      v <- ll_dev(m$psi)
      gd <- grad(function(tt) ll_dev(m$psi + tt), zero)[free]
      list(diff = v - m$ll, grad = max(abs(gd)), tol = tol)
    }, error = function(e) NULL)
    if (!is.null(cert)) break
  }
  if (is.null(cert)) cert <- list(diff = NA_real_, grad = NA_real_, tol = NA_real_)
  list(psi = setNames(m$psi, names(psi_start)), singular = m$singular,
       max_abs_grad = m$max_abs_grad, newton_steps = m$steps, restarted = m$restarted,
       sigma_curvature_at_0 = m$sigma_curvature_at_0,
       start_ll_spread = m$start_ll_spread, start_psi_spread = m$start_psi_spread,
       n_starts_ok = m$n_starts_ok,
       devfun_minus_exact = cert$diff, devfun_max_abs_grad = cert$grad,
       devfun_tolPwrss = cert$tol)
}

glmm_risks_gh <- function(psi, d, rows = rep(TRUE, nrow(d)), marginal = TRUE) {
  p <- length(psi) - 1
  beta <- psi[1:p]
  s <- if (marginal) psi[[p + 1]] else 0
  r <- vapply(c(1, 0), function(a) {
    X <- design_with(RHS_GLMM, d, a)[rows, , drop = FALSE]
    mean(gh_parts(drop(X %*% beta), s)[, 1])
  }, 0)
  stats4(r[1], r[2])
}

case_glmm_logit <- function() {
  gm <- timed_part("glmm_logit full fit", fit_glmer_full(dat))
  fit <- gm$fit
  p <- length(fixef(fit))
  psi <- gm$psi
  psi_names <- c(names(fixef(fit)), "sigma")
  beta <- psi[1:p]
  sigma <- psi[[p + 1]]
  stopifnot(!gm$singular)
  rhs <- RHS_GLMM
  # the same optimum from a naive start (GLM coefficients, sigma = 0.3)
  naive <- laplace_maximise(gm$S, c(coef(glm(death30 ~ treated + factor(period) + own_home + age,
                                               family = binomial, data = dat)), 0.3))
  naive_diff <- max(abs(naive$psi - psi))

  # lme4's stage-2 deviance function of c(theta, beta)
  devfun <- glmer(F_GLMM, data = dat, family = binomial, nAGQ = 1,
                  control = glmer_control(TRUE), devFunOnly = TRUE)
  ll_dev <- function(psi_bs) -devfun(c(psi_bs[p + 1], psi_bs[1:p])) / 2   # psi = (beta, sigma)
  ll_dev_at_glmer <- ll_dev(gm$psi_glmer)
  loglik_glmer <- as.numeric(logLik(fit))
  grad_dev_glmer <- grad(ll_dev, gm$psi_glmer)
  grad_dev_polished <- grad(ll_dev, psi)
  ll_dev_polished <- ll_dev(psi)
  ll_lap_polished <- laplace_eval(gm$S, psi, FALSE)

  # V = solve(-H), H = numDeriv::hessian of the Laplace log-likelihood (lme4 devfun)
  H_dev <- timed_part("glmm_logit hessian", hessian(ll_dev, psi))
  V <- solve(-H_dev)
  V <- (V + t(V)) / 2
  dimnames(V) <- list(psi_names, psi_names)
  # The same Hessian from the analytic gradient: numDeriv::jacobian in the
  # shifted coordinates psi + t at t = 0 (absolute steps 1e-4, Richardson).
  # lme4's devfun is only smooth to ~1e-10 (PIRLS tolerance), which limits
  # the devfun Hessian to ~1e-7 relative; this one is good to ~1e-10.
  zero <- rep(0, p + 1)
  gfun <- function(x) laplace_eval(gm$S, x)$grad
  H_exact <- jacobian(function(tt) gfun(psi + tt), zero)
  H_exact <- (H_exact + t(H_exact)) / 2
  H_exact_rel <- jacobian(gfun, psi)    # relative steps, as a check
  H_exact_rel <- (H_exact_rel + t(H_exact_rel)) / 2
  V_exact <- solve(-H_exact)
  V_exact <- (V_exact + t(V_exact)) / 2
  dimnames(V_exact) <- list(psi_names, psi_names)
  corr_scale <- sqrt(outer(diag(V_exact), diag(V_exact)))
  # analytic gradient vs numDeriv at a point away from the optimum
  x_off <- psi + c(0.05, -0.03, 0.02, 0.01, -0.02, 0.03, 0.01, 0.0005, 0.1)
  g_an <- gfun(x_off)
  g_nd <- grad(function(tt) laplace_eval(gm$S, x_off + tt, FALSE), zero)
  grad_check <- max(abs(g_an - g_nd) / pmax(1, abs(g_an)))
  vc_lme4 <- as.matrix(vcov(fit))

  # standardisation: integrate() per row (primary), Gauss-Hermite cross-check
  parts <- timed_part("glmm_logit integrate()", lapply(c(a1 = 1, a0 = 0), function(a) {
    X <- design_with(rhs, dat, a)
    eta <- drop(X %*% beta)
    list(X = X, eta = eta, int = int_parts(eta, sigma), gh = gh_parts(eta, sigma))
  }))
  gh_vs_int <- max(vapply(parts, function(x) max(abs(x$gh - x$int) / abs(x$int)), 0))
  std <- list(marginal = list(), conditional = list())
  checks_grad <- 0
  checks_se <- 0
  for (tg in c("all", "treated", "own_home")) {
    rows <- TARGETS[[tg]](dat)
    for (version in c("marginal", "conditional")) {
      rr <- lapply(parts, function(x) {
        X <- x$X[rows, , drop = FALSE]
        if (version == "marginal") {
          m <- x$int[rows, , drop = FALSE]
          list(r = mean(m[, 1]), grad = c(colMeans(m[, 2] * X), mean(m[, 3])))
        } else {
          e <- x$eta[rows]
          list(r = mean(plogis(e)), grad = c(colMeans(dlogis(e) * X), 0))
        }
      })
      # numDeriv cross-check of the gradient (Gauss-Hermite version of r_a)
      for (a in names(parts)) {
        X <- parts[[a]]$X[rows, , drop = FALSE]
        f_r <- function(ps) {
          s <- if (version == "marginal") ps[p + 1] else 0
          mean(gh_parts(drop(X %*% ps[1:p]), s)[, 1])
        }
        checks_grad <- max(checks_grad, max(abs(grad(f_r, psi) - rr[[a]]$grad)))
      }
      r1 <- rr$a1$r
      r0 <- rr$a0$r
      if (tg == "all" && version == "marginal") marginal_all <- c(r1 = r1, r0 = r0)
      dm <- delta_cis(r1, r0, rr$a1$grad, rr$a0$grad, V, Z975)
      dx <- delta_cis(r1, r0, rr$a1$grad, rr$a0$grad, V_exact, Z975)   # analytic-gradient Hessian
      checks_se <- max(checks_se, abs(unlist(dm[c("se_r1", "se_r0", "se_log_RR", "se_RD")]) /
                                        unlist(dx[c("se_r1", "se_r0", "se_log_RR", "se_RD")]) - 1))
      std[[version]][[tg]] <- list(
        target = tg, target_definition = TARGET_TEXT[[tg]], version = version,
        n_target = sum(rows),
        r1 = jnum(r1), r0 = jnum(r0), RR = jnum(r1 / r0), log_RR = jnum(log(r1 / r0)),
        RD = jnum(r1 - r0), grad_r1 = jvec(rr$a1$grad), grad_r0 = jvec(rr$a0$grad),
        gradient_method = if (version == "marginal")
          "analytic: d/dbeta = mean over T of E[h'(eta_i + sigma Z)] x_i(a), d/dsigma = mean over T of E[h'(eta_i + sigma Z) Z], expectations by integrate()"
        else "analytic: d/dbeta = mean over T of h'(eta_i) x_i(a); d/dsigma = 0",
        delta = list(
          laplace_hessian = delta_json(dm, "vcov (numDeriv::hessian of -devfun/2)", "qnorm(0.975)"),
          laplace_hessian_analytic_gradient = delta_json(
            dx, "vcov_analytic_gradient (Jacobian of the analytic gradient)", "qnorm(0.975)")))
    }
  }

  # bootstrap (marginal, target all) and jackknife, refits started at the full fit
  stat_fun <- function(d) {
    fo <- fit_laplace_refit(d, psi)
    c(list(stats = glmm_risks_gh(fo$psi, d)), fo)
  }
  t_hat_gh <- glmm_risks_gh(psi, dat)
  t_hat <- as.list(stats4(marginal_all[["r1"]], marginal_all[["r0"]]))
  DRAW_SEED <- 20261128L
  dr <- make_draws("glmm_logit", DRAW_SEED, 60L)
  bs <- timed_part("glmm_logit bootstrap (60 fits + 14 jackknife)", run_bootstrap(dr$draws, stat_fun))
  ok <- vapply(bs$reps, function(r) is.null(r$error), TRUE)
  psi_mat <- t(vapply(bs$reps, function(r) if (is.null(r$error)) unname(r$psi) else rep(NA_real_, p + 1),
                      numeric(p + 1)))
  all_fits <- c(bs$reps[ok], bs$jack)
  fmax <- function(field) max(abs(vapply(all_fits, function(r) r[[field]], 0)))

  # cross-check: glmer itself on the first replicates. With the raw age column
  # glmer's bobyqa needs ~10^4 deviance evaluations per fit here, so it is run
  # on the exactly equivalent parametrisation with age centred at 84
  # (intercept' = intercept + 84 b_age), with the tight control, started at
  # the full-data estimates; its estimates are mapped back and compared.
  ia <- which(psi_names == "age")
  F_CENTRED <- death30 ~ treated + factor(period) + own_home + I(age - 84) + (1 | cluster)
  sing <- which(vapply(seq_along(bs$reps), function(b) ok[b] && bs$reps[[b]]$singular, TRUE))
  xcheck_reps <- unique(c(1L, if (length(sing)) sing[1] else 2L))
  xcheck <- timed_part("glmm_logit glmer cross-check refits", lapply(xcheck_reps, function(b) {
    rd <- replicate_data(dat, dr$draws[b, ])
    st <- unname(beta)
    st[1] <- st[1] + 84 * st[ia]
    fc <- suppressWarnings(suppressMessages(glmer(
      F_CENTRED, data = rd, family = binomial, nAGQ = 1,
      control = glmer_control(FALSE), start = list(theta = sigma, fixef = st))))
    pc <- c(unname(fixef(fc)), unname(getME(fc, "theta")))
    pc[1] <- pc[1] - 84 * pc[ia]
    Sx <- laplace_setup(rd)
    pol <- laplace_maximise(Sx, pc)
    list(replicate = b, singular = bs$reps[[b]]$singular,
         glmer_polished_singular = pol$singular,
         glmer_polished_ll_minus_reported = jnum(pol$ll - laplace_eval(Sx, bs$reps[[b]]$psi, FALSE)),
         glmer_theta = jnum(unname(getME(fc, "theta"))),
         glmer_raw_max_abs_diff = jnum(max(abs(pc - unname(bs$reps[[b]]$psi)))),
         glmer_polished_max_abs_diff = jnum(max(abs(pol$psi - unname(bs$reps[[b]]$psi)))),
         glmer_n_function_evaluations = as.integer(fc@optinfo$feval))
  }))
  boot_part <- bootstrap_json("glmm_logit", dr, DRAW_SEED, bs, t_hat,
    "random-intercept logit model refitted on the replicate data by direct Newton maximisation of the Laplace log-likelihood (lme4's nAGQ = 1 criterion; see refit_procedure), started at the full-data (beta, sigma); r_a = marginal (integrated) risk, mean over all replicate rows, integral by 150-node Gauss-Hermite",
    extra = list(
      refit_procedure = paste(
        "laplace_multistart(): laplace_maximise() from three starts (the full-data",
        "(beta, sigma); the replicate's GLM coefficients with sigma = 0.2; the same",
        "with sigma = 0.8), keeping the optimum with the highest log-likelihood.",
        "laplace_maximise(): Newton steps on the exact-mode Laplace log-likelihood",
        "(analytic gradient, central-difference Hessian of it, step halving; a step",
        "may shrink sigma at most 4-fold) until the step is <= 1e-11 max(1, |psi|)",
        "or stalls at the rounding floor, requiring max |analytic gradient| <= 1e-6;",
        "if sigma falls below 1e-6 the fit is singular (sigma = 0, beta by Newton),",
        "accepted only when d2 ll/d sigma2 <= 0 at sigma = 0 (else restart at",
        "sigma = 0.3). Each optimum is certified",
        "against lme4: -devfun/2 (glmer(..., devFunOnly = TRUE, nAGQ = 1)) equals",
        "the exact Laplace value and its numDeriv gradient is small (see refit_checks).",
        "glmer itself is not used per replicate: with the raw age column its bobyqa",
        "needs ~10^4 deviance evaluations (about 20 s) per fit and stops ~1e-3 from",
        "the optimum; glmer_crosscheck compares glmer (age centred, then mapped back",
        "and polished) on replicate 1 and the first singular replicate.",
        "refit_checks: lme4's devfun uses nAGQ0initStep = FALSE, tolPwrss = 1e-14",
        "(with tolPwrss = 1e-12 its PIRLS stops up to ~3e-6 short in log-likelihood",
        "on some replicates; where PIRLS fails at 1e-14, 1e-12 then 1e-7 is used);",
        "the devfun gradient is numDeriv::grad with absolute steps (1e-4)."),
      replicate_psi = jmat(psi_mat),
      jackknife_psi = jmat(t(vapply(bs$jack, function(r) unname(r$psi), numeric(p + 1)))),
      psi_names = jstr(psi_names),
      replicate_singular = vapply(seq_along(bs$reps), function(b)
        if (ok[b]) bs$reps[[b]]$singular else NA, TRUE),
      jackknife_singular = vapply(bs$jack, `[[`, TRUE, "singular"),
      n_singular = sum(vapply(all_fits, `[[`, TRUE, "singular")),
      refit_checks = list(
        n_fits = length(all_fits),
        max_abs_analytic_grad = jnum(fmax("max_abs_grad")),
        max_abs_devfun_numDeriv_grad = jnum(max(vapply(all_fits, `[[`, 0, "devfun_max_abs_grad"))),
        median_max_abs_devfun_numDeriv_grad = jnum(median(vapply(all_fits, `[[`, 0, "devfun_max_abs_grad"))),
        devfun_grad_note = paste(
          "the numDeriv gradient of lme4's devfun is limited by its PIRLS (state-dependent",
          "inner iterations, ~1e-10..1e-6 jumps in the log-likelihood), hence up to ~0.05",
          "on a few replicates whose devfun value agrees with the exact Laplace value to",
          "1e-12; the optimum is certified by the analytic gradient of the exact Laplace",
          "function (max_abs_analytic_grad) plus the value agreement."),
        max_abs_devfun_minus_exact_laplace = jnum(max(abs(vapply(all_fits, `[[`, 0, "devfun_minus_exact")))),
        devfun_tolPwrss_used = as.list(table(vapply(all_fits, function(r) format(r$devfun_tolPwrss), ""))),
        max_newton_steps = max(vapply(all_fits, `[[`, 0L, "newton_steps")),
        n_singular_restarted = sum(vapply(all_fits, `[[`, TRUE, "restarted")),
        singular_max_sigma_curvature_at_0 = jnum(max(c(-Inf, unlist(lapply(all_fits, function(r)
          if (r$singular) r$sigma_curvature_at_0 else NULL))))),
        min_starts_converged = min(vapply(all_fits, `[[`, 0L, "n_starts_ok")),
        max_start_ll_spread = jnum(fmax("start_ll_spread")),
        max_start_psi_spread = jnum(fmax("start_psi_spread")),
        n_fits_with_distinct_optima = sum(vapply(all_fits, function(r) r$start_psi_spread > 1e-6, TRUE))),
      glmer_crosscheck = xcheck,
      t_hat_gauss_hermite_max_rel_diff = jnum(max(abs(unlist(t_hat) / t_hat_gh - 1)))))

  list(
    formula = paste(deparse(F_GLMM), collapse = ""), family = "binomial", link = "logit",
    nAGQ = 1,
    fit_procedure = paste0(
      "glmer(nAGQ = 1) with ", GLMER_CONTROL_TXT, ", then Newton-polished on the ",
      "Laplace log-likelihood (exact inner mode per cluster, analytic gradient over ",
      "(beta, sigma), central-difference Hessian of that gradient) until the step is ",
      "<= 1e-11 max(1, |psi|). The polished (beta, sigma) are the reported estimates ",
      "(everything below is evaluated there); glmer's own estimates are under ",
      "glmer_estimates. Starting the same maximisation from the GLM coefficients and ",
      "sigma = 0.3 reaches the same point (checks.naive_start_max_abs_diff)."),
    psi_names = jstr(psi_names),
    terms = jstr(names(fixef(fit))),
    fixef = jvec(beta), theta = jvec(sigma), sigma = jnum(sigma),
    loglik = jnum(ll_dev_polished),
    loglik_definition = "-devfun(c(theta, beta))/2 at the reported estimates, devfun from glmer(..., nAGQ = 1, devFunOnly = TRUE)",
    glmer_estimates = list(fixef = jvec(gm$psi_glmer[1:p]), theta = jvec(gm$psi_glmer[[p + 1]]),
                           logLik = jnum(loglik_glmer),
                           lme4_convergence_messages = jstr(gm$warnings),
                           optimizer_code = as.integer(fit@optinfo$conv$opt),
                           n_function_evaluations = as.integer(fit@optinfo$feval),
                           max_abs_param_diff_vs_reported = jnum(max(abs(gm$psi_glmer - psi)))),
    convergence = list(
      max_abs_grad_devfun_at_glmer = jnum(max(abs(grad_dev_glmer))),
      max_abs_grad_devfun_at_reported = jnum(max(abs(grad_dev_polished))),
      max_abs_grad_analytic_at_reported = jnum(gm$polish$max_abs_grad),
      newton_steps = gm$polish$steps,
      lme4_messages_note = "lme4's convergence messages for the glmer fit are under glmer_estimates",
      newton_last_max_step = jnum(gm$polish$last_step),
      gradient_definition = "gradient of the Laplace log-likelihood over (beta, sigma) = (beta, theta); devfun versions by numDeriv::grad of -devfun/2"),
    checks = list(
      devfun_minus_logLik_at_glmer = jnum(ll_dev_at_glmer - loglik_glmer),
      naive_start_max_abs_diff = jnum(naive_diff),
      devfun_minus_exact_laplace_at_reported = jnum(ll_dev_polished - ll_lap_polished),
      analytic_gradient_vs_numDeriv_off_optimum_max_rel = jnum(grad_check),
      hessian_analytic_abs_vs_rel_steps_max_rel = jnum(max(abs(H_exact - H_exact_rel)) / max(abs(H_exact))),
      loglik_gain_of_polish = jnum(ll_dev_polished - ll_dev_at_glmer),
      hessian_devfun_vs_exact_max_rel = jnum(max(abs(H_dev - H_exact)) / max(abs(H_exact))),
      V_devfun_vs_exact_max_abs_scaled = jnum(max(abs(V - V_exact) / corr_scale)),
      delta_se_devfun_vs_analytic_max_rel = jnum(checks_se),
      lme4_vcov_vs_V_beta_block_max_abs_scaled = jnum(max(abs(vc_lme4 - V[1:p, 1:p]) / corr_scale[1:p, 1:p])),
      gauss_hermite_vs_integrate_max_rel = jnum(gh_vs_int),
      gradient_analytic_vs_numDeriv_max_abs = jnum(checks_grad)),
    checks_definitions = list(
      V_devfun_vs_exact_max_abs_scaled = "max |vcov - vcov_analytic_gradient| / sqrt(V_ii V_jj) (V = vcov_analytic_gradient)",
      analytic_gradient_vs_numDeriv_off_optimum_max_rel = "analytic gradient of the exact Laplace log-likelihood vs numDeriv::grad (absolute steps) at psi + (0.05, -0.03, 0.02, 0.01, -0.02, 0.03, 0.01, 0.0005, 0.1); max |diff| / max(1, |g|)",
      hessian_analytic_abs_vs_rel_steps_max_rel = "Jacobian of the analytic gradient with absolute (used) vs relative (numDeriv default) steps, max |diff| / max |H|",
      delta_se_devfun_vs_analytic_max_rel = "max over targets/versions of |se(devfun V) / se(analytic V) - 1| for se_r1, se_r0, se_log_RR, se_RD",
      lme4_vcov_vs_V_beta_block_max_abs_scaled = "vcov(glmer fit) (lme4's own finite-difference Hessian at glmer's estimates) vs the beta block of V, scaled as above",
      gradient_analytic_vs_numDeriv_max_abs = "analytic gradients of r_a vs numDeriv::grad of the Gauss-Hermite r_a(psi)"),
    vcov = jmat(V),
    vcov_definition = "solve(-H), H = numDeriv::hessian (default settings) over psi = (beta, sigma) of -devfun(c(sigma, beta))/2 at the reported estimates, symmetrised; devfun = glmer(..., nAGQ = 1, devFunOnly = TRUE) with the fit's control. Accurate to ~1e-4 scaled (devfun is smooth only to ~1e-10); see vcov_analytic_gradient",
    vcov_analytic_gradient = jmat(V_exact),
    vcov_analytic_gradient_definition = "solve(-H), H = numDeriv::jacobian (absolute steps: evaluated at psi + t, t = 0) of the analytic gradient of the exact-mode Laplace log-likelihood (same function as -devfun/2), symmetrised; the more precise of the two (see checks)",
    standardisation = std,
    bootstrap = boot_part
  )
}
res_glmm_logit <- timed_part("glmm_logit total", case_glmm_logit())

# ---------------------------------------------------------------------------
# (e) Poisson / log link closed form
# ---------------------------------------------------------------------------
case_poisson_closed_form <- function() {
  etas <- seq(-6, 3, by = 0.75)
  sigmas <- c(0.05, 0.35, 0.5, 1, 1.5, 2)
  grid <- expand.grid(eta = etas, sigma = sigmas)
  num <- mapply(function(e, s) integrate(function(z) exp(e + s * z + dnorm(z, log = TRUE)), -Inf, Inf,
                                         rel.tol = INT_REL_TOL, abs.tol = 0)$value,
                grid$eta, grid$sigma)
  gh <- mapply(function(e, s) sum(GH$w * exp(e + s * GH$t)), grid$eta, grid$sigma)
  closed <- exp(grid$eta + grid$sigma^2 / 2)
  list(
    claim = "integral exp(eta + sigma t) phi(t) dt = exp(eta + sigma^2/2) (log link: marginal mean = exp(eta + sigma^2/2))",
    eta_grid = jvec(etas), sigma_grid = jvec(sigmas),
    integrate_max_rel_diff = jnum(max(abs(num / closed - 1))),
    gauss_hermite_150_max_rel_diff = jnum(max(abs(gh / closed - 1))),
    method = "integrate(function(z) exp(eta + sigma z + dnorm(z, log = TRUE)), -Inf, Inf, rel.tol = 1e-13, abs.tol = 0) over the eta x sigma grid (exp(eta + sigma z) dnorm(z) overflows to Inf * 0 = NaN for large |z|); Gauss-Hermite: the 150-node rule used for the logit integrals"
  )
}
res_poisson <- timed_part("glmm_poisson_marginal_closed_form", case_poisson_closed_form())

# ---------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------
tab <- function(x) as.list(setNames(as.integer(x), names(x)))
out <- list(
  description = paste(
    "Reference values for marginal standardisation (g-computation) of logistic",
    "GLMs and a random-intercept GLMM, delta-method and cluster-bootstrap",
    "(percentile, BCa) intervals, generated by marginal_reference.R from",
    "data/marginal/cohort.csv. Matrices are arrays of rows; vectors follow 'terms'",
    "(GLM) or 'psi_names' (GLMM)."),
  r_version = R.version.string,
  packages = list(
    stats = as.character(packageVersion("stats")),
    lme4 = as.character(packageVersion("lme4")),
    sandwich = as.character(packageVersion("sandwich")),
    numDeriv = as.character(packageVersion("numDeriv")),
    boot = as.character(packageVersion("boot")),
    jsonlite = as.character(packageVersion("jsonlite"))),
  data = list(
    file = COHORT_FILE,
    seed = DATA_SEED,
    columns = jstr(names(dat)),
    n_rows = nrow(dat),
    clusters = jstr(CLUSTERS),
    start_period = jvec(START_PERIOD),
    periods = jvec(seq_len(N_PERIODS)),
    n_deaths = sum(dat$death30),
    n_treated_rows = sum(dat$treated),
    n_own_home_rows = sum(dat$own_home),
    rows_per_cluster = tab(table(dat$cluster)),
    simulation = paste(
      "set.seed(20261126); 14 clusters M01..M14 x 5 periods; cluster k starts",
      "treatment in period 2 + floor((k-1)*4/14); patients per cluster-period",
      "max(5, Poisson(22)) (drawn first, cluster-major); u_k ~ N(0, 0.35^2);",
      "own_home ~ Bernoulli(0.45); age = round(N(84, 6^2), 1);",
      "logit P(death30) = -1.9 - 0.45 treated + 0.05 (period - 1) - 0.5 own_home",
      "+ 0.04 (age - 84) + 0.35 treated own_home + u_k.")),
  definitions = list(
    treatment = "column treated (numeric 0/1)",
    counterfactual_design = "x_i(a) = patient i's fixed-effect design row with treated set to a (interaction columns such as treated:own_home recomputed): the row of model.matrix on a copy of the fitted data with treated := a, keeping all factor levels of the fitted data",
    targets = list(all = TARGET_TEXT$all, treated = TARGET_TEXT$treated,
                   own_home = TARGET_TEXT$own_home, not_own_home = TARGET_TEXT$not_own_home),
    glm_risk = "r_a = mean over i in T of h(x_i(a)' beta), h = inverse link (plogis)",
    glmm_marginal_risk = "r_a = mean over i in T of integral h(x_i(a)' beta + sigma t) phi(t) dt, phi the standard normal density; integral by integrate(-Inf, Inf, rel.tol = 1e-13, abs.tol = 0) (bootstrap and jackknife replicates: 150-node Gauss-Hermite, cross-checked)",
    glmm_conditional_risk = "r_a = mean over i in T of h(x_i(a)' beta) (random effect set to 0)",
    RR = "r1 / r0", RD = "r1 - r0",
    psi = "GLM: psi = beta; GLMM: psi = (beta, sigma), beta first (sigma = theta, the random-intercept SD)",
    delta_method = "se(r_a) = sqrt(g' V g), g = grad r_a over psi; risk CI exp(log r_a +- q se(r_a)/r_a); RR CI exp(log RR +- q se_logRR), grad log RR = grad r1/r1 - grad r0/r0; RD CI RD +- q se_RD, grad RD = grad r1 - grad r0; q = qnorm(0.975) unless stated (CR1: qt(0.975, G - 1))",
    bootstrap_replicates = "a fixed B x G matrix of 1-based cluster indices (each row a sample with replacement of G clusters, drawn with set.seed(draws_seed) by sample.int(G, G, replace = TRUE) per row) is written to draws_file; replicate b's data = for j = 1..G the rows of cluster draws[b, j], relabelled as a new distinct cluster paste0(\"b\", j); the model is refitted and r1, r0 (target all: every row of the replicate data), RR, RD computed; failed replicates are null and excluded",
    percentile_ci = "quantile(type = 7) of the replicate values at 0.025 and 0.975 (RR on the RR scale)",
    bca_ci = "z0 = qnorm(mean(t_b < t_hat)) (strict <); jackknife t_(g) = statistic refitted without cluster g (leave-one-cluster-out, original data), tbar = mean t_(g), a = sum((tbar - t_(g))^3) / (6 (sum((tbar - t_(g))^2))^1.5); alpha_k = pnorm(z0 + (z0 + z_k) / (1 - a (z0 + z_k))), z_k = qnorm(0.025), qnorm(0.975); limits = quantile(type = 7) at alpha_1, alpha_2. Computed on the scale of each statistic (RR on the RR scale).",
    boot_package = "boot::boot.ci(type = c(\"perc\", \"bca\")) on the same replicates with L = (G - 1)(tbar - t_(g)) (same a); boot interpolates order statistics on the normal-quantile scale (norm.inter), so its limits differ from quantile(type = 7); z0 and a are identical"),
  cases = list(
    glm_logit = res_glm_logit,
    glm_interaction = res_glm_interaction,
    glmm_logit = res_glmm_logit,
    glmm_poisson_marginal_closed_form = res_poisson)
)

write_reference_json(out, "marginal_reference.json")
cat(sprintf("wrote marginal_reference.json; total %.1f s\n", proc.time()[["elapsed"]] - t_script))
