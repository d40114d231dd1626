# Reference values for the negative binomial NB2 models (variance mu + mu^2 / theta):
#   (a) MASS::glm.nb on MASS::quine, Days ~ Eth + Sex + Age + Lrn;
#   (b) MASS::glm.nb on lme4::grouseticks, TICKS ~ YEAR + HEIGHT_s;
#   (c) glmmTMB(family = nbinom2), Laplace, on grouseticks, TICKS ~ YEAR + HEIGHT_s + (1 | LOCATION);
#   (d) glmmTMB(family = nbinom2) on a simulated stepped wedge of contacts per patient,
#       contacts ~ treated + factor(period) + age + (1 | cluster).
# HEIGHT_s is scale(HEIGHT) computed here and saved as a column; YEAR is written as text
# ("y95", ...) so that it is a factor on both sides. The data are written to data/ and read back,
# and every model is fitted to the data as read.
#
# glm.nb is run with glm.control(epsilon = 1e-12, maxit = 100) (its alternation of IRLS and
# theta.ml then stops at the joint maximum to ~1e-12 rather than 1e-8). Its summary's standard
# errors of the coefficients are the IRLS ones at the final theta (the inverse of X'WX with the
# Fisher weights mu theta / (mu + theta)), SE.theta is 1 / sqrt of the observed information of
# theta at the fitted means. glmmTMB is polished: nlminb, then Newton steps on TMB's exact
# gradient (Hessian by numDeriv::jacobian) while the gradient falls; its standard errors are
# sdreport's (the inverse Hessian over (beta, log theta, log sd)). sigma(fit) is theta there.
#
# Run from tests/reference/negbin:  Rscript negbin_reference.R
suppressPackageStartupMessages({
  library(MASS)
  library(lme4)
  library(glmmTMB)
  library(numDeriv)
  library(jsonlite)
})
source("../json_helpers.R")

# ---- data -------------------------------------------------------------------------------------
data(quine, package = "MASS")
write.csv(quine, "data/quine.csv", row.names = FALSE)
data(grouseticks, package = "lme4")
grouse <- data.frame(
  TICKS = grouseticks$TICKS,
  YEAR = paste0("y", as.character(grouseticks$YEAR)),
  HEIGHT = grouseticks$HEIGHT,
  HEIGHT_s = as.numeric(scale(grouseticks$HEIGHT)),
  LOCATION = paste0("L", as.character(grouseticks$LOCATION)),
  BROOD = as.character(grouseticks$BROOD))
write.csv(grouse, "data/grouseticks.csv", row.names = FALSE)

set.seed(20261207L)
n_clusters <- 12L; n_periods <- 7L; per_cell <- 15L
cells <- expand.grid(period = seq_len(n_periods), cluster = seq_len(n_clusters))
u <- rnorm(n_clusters, 0, 0.35)
sw <- do.call(rbind, lapply(seq_len(nrow(cells)), function(r) {
  k <- cells$cluster[r]; t <- cells$period[r]
  age <- round(rnorm(per_cell, 82, 7))
  treated <- as.integer(t > ceiling(k / 2))
  eta <- 0.4 + 0.05 * (t - 1) - 0.3 * treated + 0.02 * (age - 82) + u[k]
  data.frame(cluster = sprintf("C%02d", k), period = t, treated = treated, age = age,
             contacts = rnbinom(per_cell, mu = exp(eta), size = 1.8))
}))
write.csv(sw, "data/sw_contacts.csv", row.names = FALSE)

quine <- read.csv("data/quine.csv")
grouse <- read.csv("data/grouseticks.csv")
sw <- read.csv("data/sw_contacts.csv")

# ---- glm.nb -----------------------------------------------------------------------------------
# MASS's SE.theta is 1 / sqrt(info) with info taken inside theta.ml before its last Newton step
# (which stops when the step is below .Machine$double.eps^0.25, about 1.2e-4), so it can differ
# from the information at the estimate by about 1e-4 relative. se_theta_at_estimate is
# theta.ml's own info (same formula, unit weights) at the final theta and fitted means.
theta_info <- function(th, mu, y) {
  sum(-trigamma(th + y) + trigamma(th) - 1 / th + 2 / (mu + th) - (y + th) / (mu + th)^2)
}
glm_case <- function(formula, data) {
  fit <- glm.nb(formula, data = data, control = glm.control(epsilon = 1e-12, maxit = 100))
  s <- summary(fit)
  list(
    formula = deparse(formula),
    terms = jstr(names(coef(fit))),
    estimate = jvec(unname(coef(fit))),
    se = jvec(unname(s$coefficients[, "Std. Error"])),
    theta = jnum(fit$theta),
    se_theta = jnum(fit$SE.theta),
    se_theta_at_estimate = jnum(1 / sqrt(theta_info(fit$theta, fitted(fit), fit$y))),
    se_log_theta = jnum(fit$SE.theta / fit$theta),
    loglik = jnum(as.numeric(logLik(fit))),
    twologlik = jnum(fit$twologlik),
    deviance = jnum(deviance(fit)),
    aic = jnum(AIC(fit)),
    n = nrow(data))
}

# ---- glmmTMB nbinom2 --------------------------------------------------------------------------
polish_nlminb <- function(par, fn, gr, control = list(), ...) {
  opt <- nlminb(par, fn, gr, control = control)
  x <- opt$par
  gx <- as.numeric(gr(x))
  for (it in 1:10) {
    if (max(abs(gx)) < 1e-10) break
    H <- jacobian(function(z) as.numeric(gr(z)), x)
    x1 <- x - solve((H + t(H)) / 2, gx)
    g1 <- as.numeric(gr(x1))
    if (!all(is.finite(g1)) || max(abs(g1)) >= max(abs(gx))) break
    x <- x1
    gx <- g1
  }
  env <- environment(fn)
  env$value.best <- Inf  # the polished point becomes TMB's last.par.best
  val <- fn(x)
  list(par = x, objective = val, convergence = opt$convergence, message = opt$message,
       iterations = opt$iterations, evaluations = opt$evaluations)
}

tmb_case <- function(formula, data) {
  fit <- glmmTMB(formula, data = data, family = nbinom2,
                 control = glmmTMBControl(optimizer = polish_nlminb, parallel = 1L))
  v <- as.matrix(vcov(fit, full = TRUE))
  p <- length(fixef(fit)$cond)
  stopifnot(identical(names(fit$fit$par), c(rep("beta", p), "betad", "theta")))
  log_theta <- unname(fit$fit$par[p + 1])
  se_log_theta <- sqrt(v[p + 1, p + 1])
  list(
    formula = deparse(formula),
    terms = jstr(names(fixef(fit)$cond)),
    estimate = jvec(unname(fixef(fit)$cond)),
    se = jvec(unname(sqrt(diag(v))[seq_len(p)])),
    theta = jnum(sigma(fit)),
    log_theta = jnum(log_theta),
    se_log_theta = jnum(se_log_theta),
    se_theta = jnum(sigma(fit) * se_log_theta),
    sd_random = jnum(unname(attr(VarCorr(fit)$cond[[1]], "stddev"))),
    log_sd_random = jnum(unname(fit$fit$par[p + 2])),
    se_log_sd_random = jnum(sqrt(v[p + 2, p + 2])),
    loglik = jnum(as.numeric(logLik(fit))),
    max_abs_gradient = jnum(max(abs(fit$obj$gr(fit$fit$par)))),
    n = nrow(data))
}

out <- list(
  generated_with = paste(R.version.string, "MASS", packageVersion("MASS"), "glmmTMB",
                         packageVersion("glmmTMB"), "lme4", packageVersion("lme4")),
  glm_quine = glm_case(Days ~ Eth + Sex + Age + Lrn, quine),
  glm_grouse = glm_case(TICKS ~ YEAR + HEIGHT_s, grouse),
  glmm_grouse = tmb_case(TICKS ~ YEAR + HEIGHT_s + (1 | LOCATION), grouse),
  glmm_sw = tmb_case(contacts ~ treated + factor(period) + age + (1 | cluster), sw))
write_reference_json(out, "negbin_reference.json")
