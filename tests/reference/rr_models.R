# Relative-risk model reference values for the stepwedge crate.
#
# Run from this directory:
#   cd tests/reference && Rscript rr_models.R
#
# (a) simulates ONE stepped-wedge cohort (set.seed(20261125); 16 clusters
#     K01..K16, 6 periods) and writes it to data/rr/rr_cohort.csv. The draw is
#     repeated from the same RNG stream until all three GLMMs below have a
#     cluster SD of at least 0.1 (see SCREEN_MIN_THETA), so that the Hessian
#     and sandwich over (beta, theta) are taken at an interior maximum;
# (b) writes a small log-binomial boundary data set to data/rr/boundary.csv;
# (c) reads the CSV files back and fits every case on the data as read:
#     Poisson, log-binomial and logistic random-intercept GLMMs (lme4::glmer,
#     Laplace), with the full Hessian over psi = (beta, theta), per-cluster
#     Laplace score vectors and the cluster-robust sandwich; the modified
#     Poisson GEE (geepack, sandwich, clubSandwich); and R's log-binomial glm
#     at a boundary MLE;
# (d) writes rr_models.json (deterministic: byte-identical on rerun).

suppressPackageStartupMessages({
  library(stats)
  library(lme4)
  library(geepack)
  library(sandwich)
  library(clubSandwich)
  library(numDeriv)
  library(jsonlite)
})
source("json_helpers.R")

options(digits = 15)
dir.create(file.path("data", "rr"), recursive = TRUE, showWarnings = FALSE)

SEED <- 20261125L
COHORT_CSV <- "data/rr/rr_cohort.csv"
BOUNDARY_CSV <- "data/rr/boundary.csv"
SCREEN_MIN_THETA <- 0.1

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

# unique messages with their counts, as a JSON-friendly list
count_msgs <- function(x) {
  u <- unique(x)
  lapply(u, function(s) list(message = s, count = sum(x == s)))
}

max_rel_diff <- function(a, b) max(abs(a - b)) / max(abs(a))

named_list <- function(x) {
  out <- lapply(as.numeric(x), jnum)
  names(out) <- names(x)
  out
}

# ---------------------------------------------------------------------------
# (a) simulation of the cohort
# ---------------------------------------------------------------------------
G <- 16L
N_PERIODS <- 6L
cluster_ids <- sprintf("K%02d", seq_len(G))
start_period <- 2L + (seq_len(G) - 1L) %/% 4L  # 4 clusters cross at each of 2..5
SIGMA_U <- 0.3
truth <- list(
  sigma_u = SIGMA_U,
  death30_logit = list(intercept = -2.0, treated = -0.4, period_minus_1 = 0.05,
                       own_home = -0.5, age_minus_84 = 0.04,
                       treated_x_own_home = 0.3),
  readmit30_log = list(intercept = -1.9, treated = 0.22, period_minus_1 = -0.03,
                       own_home = 0.1, age_minus_84 = 0.005, risk_cap = 0.95)
)

# One draw, in this RNG order: u (16), patients per cluster-period (96,
# cluster-major), own_home, age, death30, readmit30 (all patients each).
simulate_cohort <- function() {
  u <- rnorm(G, 0, SIGMA_U)
  cp <- expand.grid(period = seq_len(N_PERIODS), k = seq_len(G))
  cp$n <- pmax(5L, rpois(nrow(cp), 20))
  rows <- cp[rep(seq_len(nrow(cp)), cp$n), c("k", "period")]
  n <- nrow(rows)
  rows$cluster <- cluster_ids[rows$k]
  rows$treated <- as.integer(rows$period >= start_period[rows$k])
  rows$own_home <- rbinom(n, 1, 0.45)
  rows$age <- round(rnorm(n, 84, 6), 1)
  eta_d <- -2.0 - 0.4 * rows$treated + 0.05 * (rows$period - 1) - 0.5 * rows$own_home +
    0.04 * (rows$age - 84) + 0.3 * rows$treated * rows$own_home + u[rows$k]
  rows$death30 <- rbinom(n, 1, plogis(eta_d))
  risk <- exp(-1.9 + 0.22 * rows$treated - 0.03 * (rows$period - 1) + 0.1 * rows$own_home +
                0.005 * (rows$age - 84) + u[rows$k])
  n_capped <- sum(risk > 0.95)
  max_risk <- max(risk)
  rows$readmit30 <- rbinom(n, 1, pmin(risk, 0.95))
  d <- rows[, c("cluster", "period", "treated", "own_home", "age", "death30", "readmit30")]
  rownames(d) <- NULL
  list(data = d, u = u, n_capped = n_capped, max_risk = max_risk,
       patients_per_cluster_period = cp$n)
}

FIXED_RHS <- "treated + factor(period) + own_home + age"
GLMM_CASES <- list(
  poisson_glmm = list(response = "readmit30", family = "poisson", link = "log"),
  logbinomial_glmm = list(response = "readmit30", family = "binomial", link = "log"),
  logistic_glmm = list(response = "death30", family = "binomial", link = "logit")
)
glmm_formula_txt <- function(cs) paste(cs$response, "~", FIXED_RHS, "+ (1 | cluster)")
family_of <- function(cs) {
  if (cs$family == "poisson") poisson(link = "log") else binomial(link = cs$link)
}

TIGHT_CONTROL_TXT <- paste0(
  'glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-12), ',
  'tolPwrss = 1e-12)')
tight_control <- function() {
  glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-12),
               tolPwrss = 1e-12)
}

run_glmer <- function(cs, d, control, start = NULL, devFunOnly = FALSE) {
  f <- as.formula(glmm_formula_txt(cs))
  environment(f) <- globalenv()
  glmer(f, data = d, family = family_of(cs), nAGQ = 1L, control = control,
        start = start, devFunOnly = devFunOnly)
}

# screening: the three GLMMs (default control; the log-binomial started from the
# Poisson fit) must all give theta >= SCREEN_MIN_THETA
screen_thetas <- function(d) {
  ctl <- glmerControl()
  fp <- capture(run_glmer(GLMM_CASES$poisson_glmm, d, ctl))$value
  if (inherits(fp, "fit_error")) return(c(NA, NA, NA))
  fb <- capture(run_glmer(GLMM_CASES$logbinomial_glmm, d, ctl,
                          start = list(theta = getME(fp, "theta"), fixef = fixef(fp))))$value
  fl <- capture(run_glmer(GLMM_CASES$logistic_glmm, d, ctl))$value
  th <- function(f) if (inherits(f, "fit_error")) NA_real_ else unname(getME(f, "theta"))
  c(poisson_glmm = th(fp), logbinomial_glmm = th(fb), logistic_glmm = th(fl))
}

set.seed(SEED)
screening <- list()
attempt <- 0L
repeat {
  attempt <- attempt + 1L
  sim <- simulate_cohort()
  th <- screen_thetas(sim$data)
  screening[[attempt]] <- list(attempt = attempt, n_rows = nrow(sim$data),
                               theta = as.list(th))
  if (all(!is.na(th) & th >= SCREEN_MIN_THETA)) break
  stopifnot(attempt < 50L)
}
stopifnot(sim$n_capped == 0L)
write.csv(sim$data, COHORT_CSV, row.names = FALSE)

# ---------------------------------------------------------------------------
# (b) boundary data set for the log-binomial GLM: 5 groups x = 0..4 of 20
# patients; events 2, 5, 9, 16, 20. A log-linear risk exp(a + b x) fitted
# freely would exceed 1 at x = 4, so the MLE has exp(a + 4 b) = 1.
# ---------------------------------------------------------------------------
boundary_events <- c(2L, 5L, 9L, 16L, 20L)
boundary <- data.frame(
  x = rep(0:4, each = 20L),
  y = unlist(lapply(boundary_events, function(e) c(rep(1L, e), rep(0L, 20L - e)))))
write.csv(boundary, BOUNDARY_CSV, row.names = FALSE)

# ---------------------------------------------------------------------------
# (c) fits, on the data exactly as read back
# ---------------------------------------------------------------------------
d <- read.csv(COHORT_CSV)
stopifnot(identical(names(d), c("cluster", "period", "treated", "own_home", "age",
                                "death30", "readmit30")),
          isTRUE(all.equal(d$age, sim$data$age, tolerance = 0)),
          identical(sort(unique(d$cluster)), cluster_ids))
# geeglm needs each cluster's rows contiguous: stable sort by cluster (the
# file is already in this order, so this is the identity permutation)
ord <- order(d$cluster, seq_len(nrow(d)))
sort_is_identity <- identical(ord, seq_len(nrow(d)))
d <- d[ord, ]
rownames(d) <- NULL

# --- independent Laplace log-likelihood for a scalar random intercept -------
# Elementwise for 0/1 (Bernoulli) or count (Poisson) responses: log f,
# d1 = d log f / d eta, d2 = d2 log f / d eta2, the Fisher weight
# w = mu'(eta)^2 / V(mu) and w1 = dw / d eta. All normalising constants are
# included (both are 0 here: log choose(1, y) = log(y!) = 0 for y in {0, 1}).
cond_terms <- function(eta, y, family, link) {
  if (family == "poisson") {
    mu <- exp(eta)
    return(list(ll = dpois(y, mu, log = TRUE), d1 = y - mu, d2 = -mu, w = mu, w1 = mu))
  }
  if (link == "logit") {
    mu <- plogis(eta); m1 <- mu * (1 - mu); m2 <- m1 * (1 - 2 * mu)
  } else if (link == "log") {
    mu <- exp(eta); m1 <- mu; m2 <- mu
  } else stop("link not handled")
  bad <- mu >= 1 | mu <= 0
  mu[bad] <- 0.5
  a <- y / mu - (1 - y) / (1 - mu)
  b <- y / mu^2 + (1 - y) / (1 - mu)^2
  out <- list(ll = dbinom(y, 1, mu, log = TRUE), d1 = a * m1, d2 = a * m2 - b * m1^2,
              w = m1^2 / (mu * (1 - mu)),
              w1 = if (link == "logit") m2 else mu / (1 - mu)^2)
  out$ll[bad] <- -Inf
  out
}

# Laplace contributions of the clusters with u = sigma * z, z ~ N(0, 1):
#   h_g(z) = sum_{i in g} log f(y_i | eta_i + sigma z) - z^2/2 - log(2 pi)/2,
#   ell_g = h_g(zhat_g) + log(2 pi)/2 - log(C_g)/2, C_g = 1 + sigma^2 sum_i w_i,
# w_i the Fisher weights at the mode (lme4's PIRLS curvature). For the
# canonical links (Poisson log, logit) C_g = -h_g''(zhat_g); for the
# log-binomial the observed version C_obs = 1 - sigma^2 sum_i d2_i is also
# returned. The modes are found by Newton's method (h_g is concave for the
# three models here) with step halving, for all clusters at once; gi is the
# cluster index (1..G) of each row.
laplace_clusters <- function(eta_fix, y, gi, sigma, family, link) {
  rs <- function(v) as.vector(rowsum(v, gi, reorder = TRUE))
  hz <- function(z) rs(cond_terms(eta_fix + sigma * z[gi], y, family, link)$ll) - z^2 / 2
  z <- numeric(G)
  h0 <- hz(z)
  if (!all(is.finite(h0))) stop("infeasible linear predictor at z = 0")
  last <- FALSE
  for (it in 1:100) {
    ct <- cond_terms(eta_fix + sigma * z[gi], y, family, link)
    step <- (sigma * rs(ct$d1) - z) / (1 - sigma^2 * rs(ct$d2))
    s <- rep(1, G)
    repeat {  # step halving keeps every h_g finite and non-decreasing
      z1 <- z + s * step
      h1 <- hz(z1)
      bad <- !is.finite(h1) | h1 < h0 - 1e-12 * abs(h0)
      if (!any(bad)) break
      s[bad] <- s[bad] / 2
      if (any(s < 1e-12)) stop("mode search failed")
    }
    z <- z1
    h0 <- h1
    if (last) break
    last <- max(abs(s * step)) < 1e-10  # quadratic convergence: one more step
  }
  ct <- cond_terms(eta_fix + sigma * z[gi], y, family, link)
  hmax <- rs(ct$ll) - z^2 / 2
  list(ell = hmax - 0.5 * log(1 + sigma^2 * rs(ct$w)),
       ell_observed = hmax - 0.5 * log(1 - sigma^2 * rs(ct$d2)),
       zhat = z, newton_iterations = it)
}

# The cluster contributions as functions of psi = (beta, theta), and their
# exact gradients (the per-cluster score vectors). With A = -h_g''(zhat) =
# 1 - theta^2 sum_i d2_i and C = 1 + theta^2 sum_i w_i, by the implicit
# function theorem dzhat/dbeta = theta sum_i d2_i x_i / A and
# dzhat/dtheta = (sum_i d1_i + theta zhat sum_i d2_i) / A, so (envelope
# theorem for h_g):
#   d ell_g / d beta  = sum_i d1_i x_i
#                       - theta^2 sum_i w1_i (x_i + theta dzhat/dbeta) / (2 C)
#   d ell_g / d theta = zhat sum_i d1_i
#                       - (2 theta sum_i w_i + theta^2 sum_i w1_i (zhat + theta dzhat/dtheta)) / (2 C)
make_cluster_ll <- function(X, y, cl, family, link) {
  gi <- as.integer(factor(cl, levels = cluster_ids))
  stopifnot(!anyNA(gi), length(unique(gi)) == G)
  p <- ncol(X)
  all_of <- function(psi) laplace_clusters(as.vector(X %*% psi[1:p]), y, gi,
                                           unname(psi[p + 1L]), family, link)
  ell <- function(psi) all_of(psi)$ell
  total <- function(psi) sum(ell(psi))
  scores <- function(psi) {
    sigma <- unname(psi[p + 1L])
    eta_fix <- as.vector(X %*% psi[1:p])
    z <- laplace_clusters(eta_fix, y, gi, sigma, family, link)$zhat
    ct <- cond_terms(eta_fix + sigma * z[gi], y, family, link)
    rs <- function(v) rowsum(v, gi, reorder = TRUE)
    A <- 1 - sigma^2 * rs(ct$d2)[, 1]
    C <- 1 + sigma^2 * rs(ct$w)[, 1]
    sw1 <- rs(ct$w1)[, 1]
    dz_db <- sigma * rs(ct$d2 * X) / A
    dz_ds <- (rs(ct$d1)[, 1] + sigma * z * rs(ct$d2)[, 1]) / A
    g_beta <- rs(ct$d1 * X) - (sigma^2 / (2 * C)) * (rs(ct$w1 * X) + sigma * sw1 * dz_db)
    g_theta <- z * rs(ct$d1)[, 1] -
      (2 * sigma * rs(ct$w)[, 1] + sigma^2 * sw1 * (z + sigma * dz_ds)) / (2 * C)
    out <- cbind(g_beta, g_theta)
    dimnames(out) <- NULL
    out
  }
  gradient <- function(psi) colSums(scores(psi))
  list(all = all_of, ell = ell, total = total, scores = scores, gradient = gradient)
}

# an "optimizer" for glmer that returns its start unchanged: the final lme4
# fit object is evaluated exactly at the polished psi
opt_none <- function(par, fn, lower, upper, control) {
  list(par = par, fval = fn(par), conv = 0L, feval = 1L,
       message = "no optimisation: evaluated at the polished estimate")
}
FINAL_CONTROL_TXT <- paste0(
  'glmerControl(optimizer = <function returning its start unchanged>, ',
  'nAGQ0initStep = FALSE, tolPwrss = 1e-12), start = list(theta = theta_hat, ',
  'fixef = beta_hat)')
DEVFUN_TOLPWRSS <- 1e-12
TOLPWRSS_SWEEP <- c(1e-7, 1e-10, 1e-12, 1e-14, 1e-15)

symm <- function(m) (m + t(m)) / 2

fit_glmm <- function(case, start = NULL) {
  cs <- GLMM_CASES[[case]]
  notes <- character(0)
  # 1. tight bobyqa
  capA <- capture(run_glmer(cs, d, tight_control(), start = start))
  if (!is.null(capA$error)) stop(case, ": tight fit failed: ", capA$error)
  fitA <- capA$value
  terms <- names(fixef(fitA))
  p <- length(terms)
  psi_names <- c(terms, "theta")
  psiA <- c(fixef(fitA), theta = unname(getME(fitA, "theta")))
  if (psiA[["theta"]] <= 0) stop(case, ": singular tight fit")

  X <- getME(fitA, "X")
  stopifnot(identical(colnames(X), terms))
  y <- d[[cs$response]]
  cll <- make_cluster_ll(X, y, d$cluster, cs$family, cs$link)
  hess_own <- function(psi) symm(jacobian(cll$gradient, psi))

  # 2. polish: Newton steps on the independent Laplace log-likelihood with its
  # exact gradient; Hessian = numDeriv::jacobian of that gradient
  psi <- psiA
  newton <- list()
  best <- list(psi = psi, g = max(abs(cll$gradient(psi))))
  for (it in 1:10) {
    g <- cll$gradient(psi)
    if (max(abs(g)) < 1e-11) break
    step <- -solve(hess_own(psi), g)
    f0 <- cll$total(psi)
    s <- 1
    while (!is.finite(f1 <- tryCatch(cll$total(psi + s * step), error = function(e) -Inf)) ||
           f1 < f0 - 1e-9) {
      s <- s / 2
      if (s < 1e-6) stop(case, ": Newton polish failed")
    }
    psi <- psi + s * step
    gmax <- max(abs(cll$gradient(psi)))
    newton[[it]] <- list(max_abs_gradient_before = jnum(max(abs(g))),
                         max_abs_step = jnum(max(abs(s * step))), step_fraction = jnum(s),
                         max_abs_gradient_after = jnum(gmax))
    if (gmax < best$g) best <- list(psi = psi, g = gmax) else break
  }
  psi <- best$psi
  names(psi) <- psi_names

  # 3. final lme4 fit evaluated exactly at the polished psi
  ctlF <- glmerControl(optimizer = opt_none, nAGQ0initStep = FALSE,
                       tolPwrss = DEVFUN_TOLPWRSS)
  capF <- capture(run_glmer(cs, d, ctlF,
                            start = list(theta = psi[["theta"]], fixef = psi[1:p])))
  if (!is.null(capF$error)) stop(case, ": final fit failed: ", capF$error)
  fit <- capF$value
  stopifnot(identical(unname(fixef(fit)), unname(psi[1:p])),
            identical(unname(getME(fit, "theta")), psi[["theta"]]))
  vcov_lme4 <- as.matrix(vcov(fit))
  loglik <- as.numeric(logLik(fit))

  # 4. lme4's stage-2 Laplace deviance function of c(theta, beta)
  mk_devfun <- function(tol) {
    run_glmer(cs, d, glmerControl(nAGQ0initStep = FALSE, tolPwrss = tol),
              start = list(theta = psi[["theta"]], fixef = psi[1:p]), devFunOnly = TRUE)
  }
  devfun <- mk_devfun(DEVFUN_TOLPWRSS)
  ll_lme4 <- function(q) -devfun(c(q[p + 1L], q[1:p])) / 2

  # 5. log-likelihood identities, gradients, Hessian, scores, sandwich
  per <- cll$all(psi)
  ll_own <- sum(per$ell)
  ll_dev <- ll_lme4(psi)
  sweep <- lapply(TOLPWRSS_SWEEP, function(tol) {
    r <- capture({
      df <- mk_devfun(tol)
      -df(c(psi[["theta"]], psi[1:p])) / 2
    })
    if (!is.null(r$error)) list(tolPwrss = jnum(tol), error = r$error)
    else list(tolPwrss = jnum(tol), loglik_devfun_minus_cluster_sum = jnum(r$value - ll_own))
  })
  grad_lme4 <- grad(ll_lme4, psi)
  S <- cll$scores(psi)
  dimnames(S) <- list(cluster_ids, psi_names)
  S_num <- jacobian(cll$ell, psi)
  H <- symm(hessian(ll_lme4, psi))
  dimnames(H) <- list(psi_names, psi_names)
  H_own <- hess_own(psi)
  dimnames(H_own) <- dimnames(H)
  H_own_d3 <- symm(jacobian(cll$gradient, psi, method.args = list(d = 1e-3)))
  V_full <- symm(solve(-H))
  V_full_own <- symm(solve(-H_own))
  M <- crossprod(S)
  sandwich_full <- symm(V_full %*% M %*% V_full)
  sandwich_own <- symm(V_full_own %*% M %*% V_full_own)
  bb <- seq_len(p)
  u_lme4 <- ranef(fit)$cluster[cluster_ids, "(Intercept)"]
  u_own <- psi[["theta"]] * per$zhat

  fam <- family(fit)
  res <- list(
    name = case,
    fitting_function = "lme4::glmer",
    formula = glmm_formula_txt(cs),
    family = fam$family,
    link = fam$link,
    nAGQ = 1L,
    data = COHORT_CSV,
    n_obs = as.integer(nobs(fit)),
    n_clusters = as.integer(ngrps(fit)[["cluster"]]),
    start = if (is.null(start)) NA else list(fixef = jvec(unname(start$fixef)),
                                              theta = jnum(unname(start$theta))),
    terms = jstr(terms),
    psi_names = jstr(psi_names),
    fixef = jvec(unname(psi[1:p])),
    se = jvec(unname(sqrt(diag(vcov_lme4)))),
    vcov_lme4 = jmat(vcov_lme4),
    loglik = jnum(loglik),
    theta = jnum(psi[["theta"]]),
    psi = jvec(unname(psi)),
    hessian = jmat(H),
    vcov_full = jmat(V_full),
    se_full = jvec(sqrt(diag(V_full))),
    cluster_labels = jstr(cluster_ids),
    scores = jmat(S),
    meat = jmat(M),
    sandwich_full = jmat(sandwich_full),
    sandwich_beta = jmat(sandwich_full[bb, bb]),
    se_sandwich_beta = jvec(sqrt(diag(sandwich_full[bb, bb]))),
    loglik_cluster_sum = jnum(ll_own),
    cluster_loglik = jvec(per$ell),
    hessian_cluster_sum = jmat(H_own),
    vcov_full_cluster_sum = jmat(V_full_own),
    sandwich_full_cluster_sum = jmat(sandwich_own),
    conditional_modes = jvec(u_lme4),
    max_fitted = jnum(max(fitted(fit))),
    min_fitted = jnum(min(fitted(fit))),
    checks = list(
      loglik_devfun_minus_logLik = jnum(ll_dev - loglik),
      loglik_cluster_sum_minus_devfun = jnum(ll_own - ll_dev),
      loglik_cluster_sum_rel_diff = jnum(abs(ll_own - ll_dev) / abs(ll_dev)),
      devfun_tolPwrss_sweep = sweep,
      max_abs_gradient_cluster_sum = jnum(max(abs(colSums(S)))),
      max_abs_gradient_devfun_numderiv = jnum(max(abs(grad_lme4))),
      gradient_devfun_numderiv = jvec(grad_lme4),
      score_column_sums = jvec(unname(colSums(S))),
      scores_exact_vs_numderiv_max_abs_diff = jnum(max(abs(S - S_num))),
      scores_exact_vs_numderiv_max_rel_diff = jnum(max_rel_diff(S, S_num)),
      hessian_devfun_vs_cluster_sum_max_rel_diff = jnum(max_rel_diff(H, H_own)),
      hessian_cluster_sum_step_check_max_rel_diff = jnum(max_rel_diff(H_own, H_own_d3)),
      vcov_full_devfun_vs_cluster_sum_max_rel_diff = jnum(max_rel_diff(V_full, V_full_own)),
      sandwich_full_devfun_vs_cluster_sum_max_rel_diff =
        jnum(max_rel_diff(sandwich_full, sandwich_own)),
      vcov_full_beta_vs_vcov_lme4_max_rel_diff = jnum(max_rel_diff(vcov_lme4, V_full[bb, bb])),
      se_full_beta_vs_se_lme4_max_rel_diff = jnum(max(abs(sqrt(diag(V_full))[bb] /
                                                            sqrt(diag(vcov_lme4)) - 1))),
      conditional_modes_lme4_vs_cluster_laplace_max_abs_diff = jnum(max(abs(u_lme4 - u_own))),
      loglik_laplace_observed_information = jnum(sum(per$ell_observed)),
      hessian_eigenvalues = jvec(eigen(H, symmetric = TRUE, only.values = TRUE)$values)
    ),
    polish = list(
      tight_fit = list(control = TIGHT_CONTROL_TXT, psi = jvec(unname(psiA)),
                       loglik = jnum(as.numeric(logLik(fitA))),
                       loglik_cluster_sum = jnum(cll$total(psiA)),
                       max_abs_gradient_cluster_sum = jnum(max(abs(cll$gradient(psiA)))),
                       n_function_evaluations = as.integer(fitA@optinfo$feval),
                       lme4_max_abs_gradient_deviance_scale =
                         jnum(max(abs(fitA@optinfo$derivs$gradient))),
                       lme4_messages = jstr(unlist(fitA@optinfo$conv$lme4$messages)),
                       r_warnings = jstr(capA$warnings), r_messages = jstr(capA$messages)),
      newton_steps = newton,
      max_abs_change_tight_to_polished = jnum(max(abs(psi - psiA))),
      loglik_change_tight_to_polished = jnum(loglik - as.numeric(logLik(fitA))),
      loglik_cluster_sum_change_tight_to_polished = jnum(ll_own - cll$total(psiA)),
      final_control = FINAL_CONTROL_TXT,
      final_lme4_messages = jstr(unlist(fit@optinfo$conv$lme4$messages)),
      final_r_warnings = jstr(capF$warnings),
      final_r_messages = jstr(capF$messages)
    ),
    notes = jstr(notes)
  )
  list(json = res, fit = fit)
}

# the log-binomial GLMM is started from the Poisson GLMM estimate
glmm_fits <- list()
glmm_fits$poisson_glmm <- fit_glmm("poisson_glmm")
pf <- glmm_fits$poisson_glmm$fit
glmm_fits$logbinomial_glmm <- fit_glmm(
  "logbinomial_glmm", start = list(theta = unname(getME(pf, "theta")), fixef = fixef(pf)))
glmm_fits$logistic_glmm <- fit_glmm("logistic_glmm")

lb_obs <- glmm_fits$logbinomial_glmm$json$checks$loglik_laplace_observed_information
glmm_fits$logbinomial_glmm$json$notes <- jstr(c(
  "started from the Poisson GLMM estimate (start = list(theta, fixef) of poisson_glmm)",
  paste("lme4's Laplace approximation uses the Fisher (expected-information) curvature",
        "C = 1 + theta^2 sum_i w_i at the mode; for this non-canonical link it differs from",
        "the observed curvature 1 - theta^2 sum_i d2 log f_i / deta^2 (glmmTMB's Laplace);",
        "checks.loglik_laplace_observed_information is the observed-curvature value at the",
        "same psi (not maximised)")))

# ---------------------------------------------------------------------------
# modified Poisson (log-link working model for a binary outcome), GEE/GLM
# ---------------------------------------------------------------------------
gee_formula <- readmit30 ~ treated + factor(period) + own_home + age
glm_ctl <- glm.control(epsilon = 1e-14, maxit = 200)
glm0 <- glm(gee_formula, family = poisson, data = d, control = glm_ctl)
gfit <- glm0
n_polish <- 0L
repeat {  # polishing, as in glm_reference.R
  gnew <- glm(gee_formula, family = poisson, data = d, control = glm_ctl,
              start = unname(coef(gfit)))
  delta <- max(abs(coef(gnew) - coef(gfit)))
  gfit <- gnew
  n_polish <- n_polish + 1L
  if (delta <= 1e-14 * max(1, abs(coef(gfit))) || n_polish >= 50L) break
}
gterms <- names(coef(gfit))
stopifnot(identical(gterms, as.character(glmm_fits$poisson_glmm$json$terms)))

d$cluster_f <- factor(d$cluster, levels = cluster_ids)
gee_cap <- capture(geeglm(gee_formula, family = poisson, data = d, id = cluster_f,
                          corstr = "independence", std.err = "san.se",
                          control = geese.control(epsilon = 1e-14, maxit = 200)))
if (!is.null(gee_cap$error)) stop("geeglm failed: ", gee_cap$error)
gee <- gee_cap$value
V_gee <- gee$geese$vbeta
dimnames(V_gee) <- list(gterms, gterms)
V_hc0 <- as.matrix(vcovCL(gfit, cluster = ~cluster, type = "HC0", cadjust = FALSE))
V_cr2 <- as.matrix(vcovCR(gfit, cluster = d$cluster, type = "CR2"))
V_cr3 <- as.matrix(vcovCR(gfit, cluster = d$cluster, type = "CR3"))
V_cr2 <- matrix(as.numeric(V_cr2), nrow(V_cr2), dimnames = list(gterms, gterms))
V_cr3 <- matrix(as.numeric(V_cr3), nrow(V_cr3), dimnames = list(gterms, gterms))
df_t <- G - 1L
qt_975 <- qt(0.975, df_t)
b_trt <- coef(gfit)[["treated"]]
rr_ci <- function(V) {
  se <- sqrt(V["treated", "treated"])
  list(se = jnum(se), rr = jnum(exp(b_trt)), lower = jnum(exp(b_trt - qt_975 * se)),
       upper = jnum(exp(b_trt + qt_975 * se)))
}
gee_json <- list(
  name = "modified_poisson_gee",
  formula = deparse(gee_formula),
  data = COHORT_CSV,
  data_sorted_by_cluster = paste(
    "geeglm needs contiguous clusters: the rows were stably sorted by cluster (original order",
    "kept within cluster); the permutation is the identity:", sort_is_identity),
  n_obs = as.integer(nobs(gfit)),
  n_clusters = G,
  terms = jstr(gterms),
  geeglm = list(
    call = paste('geepack::geeglm(formula, family = poisson, data, id = cluster (factor),',
                 'corstr = "independence", std.err = "san.se",',
                 'control = geese.control(epsilon = 1e-14, maxit = 200))'),
    coefficients = jvec(unname(coef(gee))),
    vbeta = jmat(V_gee),
    se = jvec(sqrt(diag(V_gee))),
    scale = jnum(gee$geese$gamma[[1]]),
    r_warnings = jstr(gee_cap$warnings)
  ),
  glm = list(
    control = "glm.control(epsilon = 1e-14, maxit = 200), then polished",
    coefficients = jvec(unname(coef(gfit))),
    iter = as.integer(glm0$iter),
    polish_refits = n_polish,
    converged = gfit$converged,
    loglik = jnum(as.numeric(logLik(gfit))),
    vcov_model = jmat(vcov(gfit)),
    HC0_cluster = jmat(V_hc0),
    CR2 = jmat(V_cr2),
    CR3 = jmat(V_cr3)
  ),
  treated_wald_t = list(
    df = df_t,
    qt_975 = jnum(qt_975),
    san_se = rr_ci(V_hc0),
    CR2 = rr_ci(V_cr2),
    CR3 = rr_ci(V_cr3)
  ),
  checks = list(
    geeglm_vs_glm_coef_max_abs_diff = jnum(max(abs(coef(gee) - coef(gfit)))),
    geeglm_vbeta_vs_vcovCL_HC0_max_rel_diff = jnum(max_rel_diff(V_gee, V_hc0))
  )
)

# ---------------------------------------------------------------------------
# log-binomial GLM with its MLE on the boundary (documentation of R only)
# ---------------------------------------------------------------------------
bd <- read.csv(BOUNDARY_CSV)
run_boundary <- function(label, start) {
  cap <- capture(if (is.null(start))
    glm(y ~ x, family = binomial(link = "log"), data = bd) else
      glm(y ~ x, family = binomial(link = "log"), data = bd, start = start))
  out <- list(call = label)
  if (!is.null(cap$error)) {
    out$error <- cap$error
  } else {
    f <- cap$value
    out <- c(out, list(converged = f$converged, boundary = f$boundary,
                       iter = as.integer(f$iter),
                       coefficients = jvec(unname(coef(f))),
                       max_fitted = jnum(max(fitted(f))),
                       one_minus_max_fitted = jnum(1 - max(fitted(f))),
                       loglik = jnum(as.numeric(logLik(f)))))
  }
  out$r_warnings <- count_msgs(cap$warnings)
  out
}
start_b <- c(log(mean(bd$y)), 0)
# constrained MLE (risk at x = 4 equal to 1): log p = b (x - 4), 1-D in b
ll_b <- function(b) sum(dbinom(bd$y, 1, pmin(exp(b * (bd$x - 4)), 1), log = TRUE))
b_hat <- optimize(ll_b, c(0.01, 3), maximum = TRUE, tol = 1e-12)$maximum
boundary_json <- list(
  name = "logbinomial_glm_boundary",
  data = BOUNDARY_CSV,
  description = paste(
    "x = 0..4, 20 patients per x, events", paste(boundary_events, collapse = ", "),
    "(every patient at x = 4 has the event). The log-binomial MLE of y ~ x lies on the",
    "boundary exp(a + 4 b) = 1; R's glm behaviour is recorded."),
  formula = "y ~ x",
  family = "binomial",
  link = "log",
  default_no_start = run_boundary("glm(y ~ x, family = binomial(link = \"log\"), data)", NULL),
  with_start = run_boundary(
    "glm(y ~ x, family = binomial(link = \"log\"), data, start = c(log(mean(y)), 0))",
    start_b),
  with_start_values = jvec(start_b),
  constrained_mle = list(
    method = "optimize over b of the loglik with a = -4 b (risk 1 at x = 4), tol 1e-12",
    coefficients = jvec(c(-4 * b_hat, b_hat)),
    loglik = jnum(ll_b(b_hat)))
)

# ---------------------------------------------------------------------------
# (d) JSON
# ---------------------------------------------------------------------------
pkgs <- c("lme4", "Matrix", "minqa", "geepack", "sandwich", "clubSandwich", "numDeriv",
          "jsonlite", "stats")
cl_n <- as.integer(table(factor(d$cluster, levels = cluster_ids)))
out <- list(
  description = paste(
    "Reference values for relative-risk models on one simulated stepped-wedge cohort,",
    "generated by rr_models.R: Poisson, log-binomial and logistic random-intercept GLMMs",
    "(lme4 Laplace) with the full Hessian and cluster-robust sandwich over psi = (beta, theta),",
    "the modified Poisson GEE with cluster-robust variances, and R's log-binomial glm at a",
    "boundary MLE. Matrices are arrays of rows; beta order = 'terms', psi = (beta, theta)."),
  r_version = R.version.string,
  packages = setNames(lapply(pkgs, function(p) as.character(packageVersion(p))), pkgs),
  data = list(
    path = COHORT_CSV,
    columns = jstr(names(d)[names(d) != "cluster_f"]),
    seed = SEED,
    simulation_attempts = attempt,
    screening = list(
      rule = paste("draws are repeated from the same RNG stream until glmer fits with the",
                   "default glmerControl() of all three GLMMs give theta >=", SCREEN_MIN_THETA,
                   "(log-binomial started from the Poisson fit), so that (beta, theta) is an",
                   "interior maximum; rejected draws are listed with their thetas"),
      draws = lapply(screening, function(s) list(
        attempt = s$attempt, n_rows = s$n_rows,
        theta = lapply(s$theta, function(v) if (is.na(v)) NA else jnum(v))))),
    n_rows = nrow(d),
    n_clusters = G,
    n_periods = N_PERIODS,
    cluster_labels = jstr(cluster_ids),
    start_period = jvec(start_period),
    patients_per_cluster = jvec(cl_n),
    patients_per_cluster_period = jvec(as.integer(sim$patients_per_cluster_period)),
    n_treated_rows = sum(d$treated),
    death30_events = sum(d$death30),
    readmit30_events = sum(d$readmit30),
    true_readmit30_max_risk = jnum(sim$max_risk),
    n_risks_capped = sim$n_capped,
    truth = c(lapply(truth[c("sigma_u")], jnum),
              list(death30_logit = named_list(unlist(truth$death30_logit)),
                   readmit30_log = named_list(unlist(truth$readmit30_log)),
                   cluster_effects = jvec(sim$u)))
  ),
  boundary_data = list(path = BOUNDARY_CSV, n_rows = nrow(bd), columns = jstr(names(bd))),
  fit_procedure = list(
    glmm_tight = paste("glmer(formula, data, family, nAGQ = 1, control =", TIGHT_CONTROL_TXT, ")"),
    glmm_polish = paste(
      "Newton steps psi <- psi - H^-1 g from the tight fit on the independent Laplace",
      "log-likelihood sum_g ell_g (g = its exact gradient, the column sums of scores;",
      "H = numDeriv::jacobian of g, symmetrised; step halving if the loglik drops), until",
      "max |g| < 1e-11 or a step no longer reduces max |g| (at most 10 steps)"),
    glmm_final = paste("glmer refitted with control =", FINAL_CONTROL_TXT,
                       "so that logLik, vcov, ranef and fitted belong to the polished psi"),
    glmm_devfun = paste(
      "devfun <- glmer(formula, data, family, nAGQ = 1, control = glmerControl(nAGQ0initStep",
      "= FALSE, tolPwrss = 1e-12), start = <psi>, devFunOnly = TRUE): lme4's stage-2 Laplace",
      "deviance of c(theta, beta); loglik(psi) = -devfun(c(theta, beta)) / 2")
  ),
  definitions = list(
    data = "the cohort: start_period[k] = first treated period of cluster k (cluster_labels order); patients_per_cluster_period = 96 counts, cluster-major (K01 periods 1..6, then K02, ...); truth = data-generating parameters and the realised cluster effects u (K01..K16), shared by both outcomes",
    terms = "fixed-effect names, the order of beta and of every beta-sized vector / matrix",
    psi = "full parameter vector (beta, theta): beta first (terms order), then theta (this crate's order)",
    psi_names = "names of psi: terms, then 'theta'",
    fixef = "beta at the polished maximum (lme4 fixef(fit) of the final fit)",
    theta = "lme4 getME(fit, 'theta'): for a scalar random intercept the SD of the cluster intercept u",
    se = "sqrt(diag(vcov(fit))): lme4's covariance of beta, from its own finite-difference Hessian of the deviance over (theta, beta)",
    vcov_lme4 = "vcov(fit) (lme4, use.hessian = TRUE)",
    loglik = "as.numeric(logLik(fit)): lme4 Laplace log-likelihood incl. all constants (0 here for 0/1 outcomes); equals -devfun(c(theta, beta))/2 exactly. Its accuracy is limited by lme4's PIRLS tolerance tolPwrss = 1e-12 (see checks.devfun_tolPwrss_sweep); loglik_cluster_sum is the converged value",
    loglik_cluster_sum = "sum_g cluster_loglik: the same Laplace log-likelihood with every conditional mode converged to machine precision",
    hessian = "numDeriv::hessian of loglik(psi) = -devfun(c(theta, beta))/2 at psi (default Richardson settings), symmetrised: (H + t(H))/2",
    vcov_full = "solve(-hessian), symmetrised; rows/columns in psi order",
    se_full = "sqrt(diag(vcov_full))",
    cluster_loglik = "ell_g: Laplace contribution of cluster g (cluster_labels order) at psi: max_z [sum_i log f(y_i | x_i'beta + theta z) - z^2/2] - log(1 + theta^2 sum_i w_i)/2, w_i the Fisher weight mu'(eta)^2 / V(mu) at the mode (equals the observed curvature -d2 log f/deta2 for the Poisson-log and logit links; for the log-binomial it is lme4's PIRLS curvature, not the observed one). This is the brief's max_b[...] + log(2 pi)/2 - log(-h'')/2 with the log(2 pi)/2 terms cancelled",
    scores = "G x length(psi) matrix, row g = gradient of ell_g over psi at the estimate (rows in cluster_labels order), computed exactly (implicit-function formulas in rr_models.R) and checked against numDeriv::jacobian of (ell_1..ell_G) (checks.scores_exact_vs_numderiv_*)",
    meat = "sum_g s_g s_g' = t(scores) %*% scores",
    sandwich_full = "vcov_full %*% meat %*% vcov_full (no small-sample factor; glmmTMB's vcovHC 'HC0' convention), symmetrised",
    sandwich_beta = "beta block (first length(terms) rows/columns) of sandwich_full",
    se_sandwich_beta = "sqrt(diag(sandwich_beta))",
    conditional_modes = "ranef(fit)$cluster[, '(Intercept)'] in cluster_labels order (u = theta * zhat)",
    max_fitted = "max(fitted(fit)): fitted means / risks at the conditional modes",
    hessian_cluster_sum = "H_own = numDeriv::jacobian of the exact gradient of sum_g ell_g at psi, symmetrised (cross-check of hessian; more accurate, as it is free of lme4's PIRLS tolerance)",
    vcov_full_cluster_sum = "solve(-hessian_cluster_sum), symmetrised",
    sandwich_full_cluster_sum = "vcov_full_cluster_sum %*% meat %*% vcov_full_cluster_sum, symmetrised",
    checks = "loglik identities (the tolPwrss sweep gives -devfun/2 - loglik_cluster_sum for several lme4 PIRLS tolerances; an error string where lme4 fails), max |gradient| on the loglik scale (exact for sum_g ell_g = max |score_column_sums|; numDeriv::grad for -devfun/2, whose numerical noise dominates in the age direction), Hessian / vcov / sandwich cross-checks as max |a - b| / max |a|",
    vcov_full_beta_vs_vcov_lme4_max_rel_diff = "max |vcov_lme4 - vcov_full[beta, beta]| / max |vcov_lme4| (lme4 uses its own finite-difference Hessian)",
    hessian_cluster_sum_step_check_max_rel_diff = "max rel diff of hessian_cluster_sum (numDeriv::jacobian default d = 1e-4) and the same with d = 1e-3: a measure of its numerical accuracy",
    polish = "the tight bobyqa fit (its psi, lme4 loglik, exact loglik_cluster_sum and max |exact gradient|), each Newton step, and the changes to the polished estimate; loglik_change_tight_to_polished is on lme4's logLik scale, loglik_cluster_sum_change_tight_to_polished on the exact scale",
    geeglm_vbeta = "geeglm(..., corstr = 'independence', std.err = 'san.se')$geese$vbeta: cluster-robust sandwich, no small-sample factor",
    HC0_cluster = "sandwich::vcovCL(glm fit, cluster = ~cluster, type = 'HC0', cadjust = FALSE)",
    CR2 = "clubSandwich::vcovCR(glm fit, cluster = data$cluster, type = 'CR2')",
    CR3 = "clubSandwich::vcovCR(glm fit, cluster = data$cluster, type = 'CR3')",
    treated_wald_t = "rr = exp(beta_treated); lower/upper = exp(beta_treated -/+ qt(0.975, G - 1) * se), G - 1 = 15, se = sqrt of the treated diagonal entry of the named covariance (san_se = HC0_cluster)",
    boundary = "R's glm(family = binomial(link = 'log')) on data/rr/boundary.csv; r_warnings lists each distinct warning with its count"
  ),
  notes = jstr(c(
    paste("The first draw from set.seed(20261125) gave theta = 0 (singular fit) for the Poisson",
          "and log-binomial GLMMs; the second draw from the same stream was used (data.screening)."),
    paste("lme4's Laplace loglik (= -devfun/2) is not the exactly converged Laplace value: its",
          "PIRLS updates the Cholesky factor (hence the log-determinant) with the working weights",
          "of the iterate before its last step, and for the log-binomial (linear Fisher-scoring",
          "convergence) the conditional modes are also only converged to the tolPwrss level.",
          "See checks.loglik_cluster_sum_minus_devfun and checks.devfun_tolPwrss_sweep;",
          "loglik_cluster_sum is the converged value."),
    paste("age enters raw (not centred), so the Hessians are ill-conditioned (see",
          "checks.hessian_eigenvalues) and lme4 warns 'Model is nearly unidentifiable: very large",
          "eigenvalue - Rescale variables?'; errors of ~1e-8 relative in a Hessian become ~1e-5",
          "in its inverse (logistic_glmm: checks.vcov_full_devfun_vs_cluster_sum_max_rel_diff).",
          "The *_cluster_sum matrices, built from the exact gradient, are the more accurate ones.")
  )),
  cases = list(
    glmm_fits$poisson_glmm$json,
    glmm_fits$logbinomial_glmm$json,
    glmm_fits$logistic_glmm$json,
    gee_json,
    boundary_json
  )
)

write_reference_json(out, "rr_models.json")
cat("wrote rr_models.json: simulation attempts", attempt, "\n")
