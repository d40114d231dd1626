#!/usr/bin/env Rscript
# Reference values for marginal GEE fits with geepack::geeglm (robust "san.se" and model-based SEs,
# exchangeable alpha, scale) on stepped-wedge data: binary (logit / log / identity links), counts
# (Poisson, log link) and a continuous outcome (Gaussian, identity link).
#
# Run from this directory:  cd tests/reference/geepack && Rscript make_geepack.R
#
# Reads  ../gee/gee_exch_logit_uee.csv (binary outcome, existing file, not rewritten here).
# Writes gee_counts.csv, gee_continuous.csv (simulated, set.seed below) and one <case>.json per case.
# Deterministic: rerunning reproduces every file byte for byte with the same R / package versions.
suppressPackageStartupMessages({ library(geepack); library(jsonlite) })

## ---------------------------------------------------------------- exact JSON numbers
# jsonlite 1.8.x writes at most 15 significant digits even with digits = NA, which does not
# round-trip every double. Each number is therefore pre-formatted with the shortest of
# %.15g / %.16g / %.17g that parses back (jsonlite's parser, C strtod) to the identical double,
# and inserted verbatim (json_verbatim = TRUE). %.17g always round-trips.
fmt_nums <- function(x) {
  out <- character(length(x))
  miss <- is.na(x)
  out[miss] <- "null"
  if (is.integer(x)) { out[!miss] <- as.character(x[!miss]); return(out) }
  if (any(!is.finite(x[!miss]))) stop("non-finite number cannot be written to JSON")
  todo <- which(!miss)
  for (dg in 15:16) {
    if (length(todo) == 0L) break
    s <- sprintf("%.*g", dg, x[todo])
    ok <- jsonlite::fromJSON(paste0("[", paste(s, collapse = ","), "]")) == x[todo]
    out[todo[ok]] <- s[ok]
    todo <- todo[!ok]
  }
  out[todo] <- sprintf("%.17g", x[todo])
  out
}
jnum <- function(x) { stopifnot(length(x) == 1L); structure(fmt_nums(x), class = "json") }
# named numeric vector -> JSON object {name: number}
jnamed <- function(x) setNames(lapply(unname(x), jnum), names(x))
jnum_or_null <- function(x) if (is.null(x)) NULL else jnum(x)
write_case_json <- function(x, path) {
  jsonlite::write_json(x, path, digits = NA, auto_unbox = TRUE, pretty = TRUE,
                       json_verbatim = TRUE, null = "null")
}

## ---------------------------------------------------------------- simulated stepped-wedge data
# 12 clusters x 5 periods; crossover (first treated period) 2..5, three clusters per step, randomly
# assigned; 8-14 patients per cluster-period (cross-sectional, new patients each period).
# Both outcomes share the design (cluster sizes, treatment, age) but have their own random effects.
simulate_sw <- function(seed = 20250301, G = 12, T = 5, m_lo = 8, m_hi = 14) {
  set.seed(seed)
  cross <- sample(rep(2:T, each = G / (T - 1)))
  design <- do.call(rbind, lapply(seq_len(G), function(g) do.call(rbind, lapply(seq_len(T), function(t) {
    n <- sample(m_lo:m_hi, 1)
    data.frame(cluster = g, period = t, treated = as.integer(t >= cross[g]),
               age = pmin(99, pmax(60, round(rnorm(n, 78, 8)))))
  }))))
  cp <- interaction(design$cluster, design$period, drop = TRUE, lex.order = TRUE)
  ## counts: log mu = log 3 + 0.05 (t - 1) - 0.25 treated + 0.01 (age - 78) + u_g + v_gt
  u <- rnorm(G, 0, 0.25); v <- rnorm(nlevels(cp), 0, 0.15)
  mu <- exp(log(3) + 0.05 * (design$period - 1) - 0.25 * design$treated + 0.01 * (design$age - 78) +
            u[design$cluster] + v[as.integer(cp)])
  counts <- design; counts$y <- rpois(nrow(design), mu)
  ## continuous: y = 46 + (t - 1) + 3 treated + 0.2 (age - 78) + u_g + v_gt + e
  u <- rnorm(G, 0, 3); v <- rnorm(nlevels(cp), 0, 2)
  cont <- design
  cont$y <- round(46 + (design$period - 1) + 3 * design$treated + 0.2 * (design$age - 78) +
                  u[design$cluster] + v[as.integer(cp)] + rnorm(nrow(design), 0, 9), 3)
  list(counts = counts, continuous = cont, crossover = cross, seed = seed,
       description = paste(
         "12 clusters x 5 periods, cross-sectional stepped wedge; crossover period 2..5 with 3 clusters",
         "per step (randomly assigned); 8-14 patients per cluster-period; age = round(N(78, 8)) clipped to",
         "[60, 99]. counts: y ~ Poisson(exp(log 3 + 0.05 (period - 1) - 0.25 treated + 0.01 (age - 78)",
         "+ u_g + v_gt)), u_g ~ N(0, 0.25^2), v_gt ~ N(0, 0.15^2). continuous: y = round(46 + (period - 1)",
         "+ 3 treated + 0.2 (age - 78) + u_g + v_gt + e, 3), u_g ~ N(0, 3^2), v_gt ~ N(0, 2^2), e ~ N(0, 9^2)."))
}

sim <- simulate_sw()
write.csv(sim$counts, "gee_counts.csv", row.names = FALSE)
write.csv(sim$continuous, "gee_continuous.csv", row.names = FALSE)

## ---------------------------------------------------------------- data as read back from CSV
read_sorted <- function(path) {
  d <- read.csv(path)
  o <- if ("patient_id" %in% names(d)) order(d$cluster, d$period, d$patient_id) else order(d$cluster, d$period)
  stopifnot(identical(o, seq_len(nrow(d))))  # files are already sorted by cluster, period
  d
}
data_files <- c(binary = "../gee/gee_exch_logit_uee.csv", counts = "gee_counts.csv",
                continuous = "gee_continuous.csv")
datasets <- lapply(data_files, read_sorted)

## ---------------------------------------------------------------- cases
ctrl_default <- geese.control()
ctrl <- geese.control(epsilon = 1e-10, maxit = 200)
formula <- y ~ treated + factor(period)

cases <- list(
  list(case = "gp_binomial_logit_independence",  data = "binary", family = "binomial", link = "logit",
       corstr = "independence", scale_fix = TRUE, mustart = FALSE),
  list(case = "gp_binomial_logit_exchangeable",  data = "binary", family = "binomial", link = "logit",
       corstr = "exchangeable", scale_fix = TRUE, mustart = FALSE),
  list(case = "gp_binomial_log_exchangeable",    data = "binary", family = "binomial", link = "log",
       corstr = "exchangeable", scale_fix = TRUE, mustart = TRUE),
  list(case = "gp_binomial_identity_exchangeable", data = "binary", family = "binomial", link = "identity",
       corstr = "exchangeable", scale_fix = TRUE, mustart = TRUE),
  list(case = "gp_poisson_log_independence",     data = "counts", family = "poisson", link = "log",
       corstr = "independence", scale_fix = FALSE, mustart = FALSE),
  list(case = "gp_poisson_log_exchangeable",     data = "counts", family = "poisson", link = "log",
       corstr = "exchangeable", scale_fix = FALSE, mustart = FALSE),
  list(case = "gp_gaussian_identity_independence", data = "continuous", family = "gaussian", link = "identity",
       corstr = "independence", scale_fix = FALSE, mustart = FALSE),
  list(case = "gp_gaussian_identity_exchangeable", data = "continuous", family = "gaussian", link = "identity",
       corstr = "exchangeable", scale_fix = FALSE, mustart = FALSE)
)

make_family <- function(fam, link) get(fam, mode = "function")(link = link)

# geeglm with trace on: the C code prints "iter = k" at the top of each pass of its estimation loop,
# so the number of passes is the number of "iter" lines.
# Start values: geeglm (1.3.9) always starts geese from the coefficients of its internal
# glm(formula, family, data, mustart = ...) (independence fit with the same link). Its own `start`
# argument cannot be used with data = d: geeglm passes it on to model.frame, which fails with
# "variable lengths differ (found for '(start)')"; mustart (length n_obs) passes through fine.
fit_traced <- function(d, fam, corstr, scale_fix, mustart = NULL, zcor = NULL) {
  ctl <- ctrl; ctl$trace <- 1L
  out <- capture.output(fit <- if (is.null(mustart))
    geeglm(y ~ treated + factor(period), id = cluster, data = d, family = fam, corstr = corstr,
           zcor = zcor, scale.fix = scale_fix, std.err = "san.se", control = ctl)
  else
    geeglm(y ~ treated + factor(period), id = cluster, data = d, family = fam, corstr = corstr,
           zcor = zcor, scale.fix = scale_fix, std.err = "san.se", mustart = mustart, control = ctl))
  list(fit = fit, iterations = sum(grepl("^iter", out)))
}

# geepack's moment estimators at the final beta (checked against the reported values):
#   e = (y - mu) / sqrt(V(mu)) (Pearson residuals), scale = sum(e^2) / N (no N - p correction),
#   alpha = sum_i sum_{j<k} e_ij e_ik / (scale * sum_i n_i (n_i - 1) / 2).
moment_estimates <- function(fit, d) {
  mu <- as.numeric(fitted(fit)); e <- (d$y - mu) / sqrt(fit$family$variance(mu))
  n_i <- as.numeric(table(d$cluster)); s_i <- tapply(e, d$cluster, sum); ss_i <- tapply(e^2, d$cluster, sum)
  list(scale = sum(e^2) / length(e),
       pair_sum = sum((s_i^2 - ss_i) / 2), n_pairs = sum(n_i * (n_i - 1) / 2))
}

jmatrix <- function(m) lapply(seq_len(nrow(m)), function(i)
  structure(paste0("[", paste(fmt_nums(unname(m[i, ])), collapse = ","), "]"), class = "json"))

si <- sessionInfo()
versions <- list(r_version = si$R.version$version.string,
                 geepack_version = si$otherPkgs$geepack$Version,
                 jsonlite_version = si$otherPkgs$jsonlite$Version)
ctrl_json <- list(epsilon = jnum(ctrl$epsilon), maxit = ctrl$maxit)
ctrl_default_json <- list(epsilon = jnum(ctrl_default$epsilon), maxit = ctrl_default$maxit)
control_str <- "geese.control(epsilon = 1e-10, maxit = 200)"

failed <- list()
summary_rows <- list()
for (cs in cases) {
  d <- datasets[[cs$data]]
  fam <- make_family(cs$family, cs$link)
  mustart <- NULL; start_note <- NULL
  if (cs$mustart) {
    # log / identity link: the internal glm needs starting fitted values inside (0, 1); take them from
    # the logit glm. Its coefficients (the independence glm with this link) are geese's start values.
    mustart <- fitted(glm(formula, data = d, family = binomial))
    start_note <- sprintf(paste("coef of glm(y ~ treated + factor(period), family = binomial(link = \"%s\"),",
                                "mustart = fitted(<same glm with the logit link>)), computed inside geeglm"), cs$link)
  } else {
    start_note <- sprintf("coef of glm(y ~ treated + factor(period), family = %s(link = \"%s\")), computed inside geeglm",
                          cs$family, cs$link)
  }
  g0 <- if (is.null(mustart)) glm(formula, data = d, family = fam) else glm(formula, data = d, family = fam, mustart = mustart)
  start <- coef(g0)
  res <- tryCatch(fit_traced(d, fam, cs$corstr, cs$scale_fix, mustart), error = function(e) e)
  if (inherits(res, "error")) {
    failed[[cs$case]] <- conditionMessage(res)
    message(cs$case, ": FAILED: ", conditionMessage(res))
    next
  }
  fit <- res$fit
  gs <- fit$geese
  terms <- names(coef(fit))
  beta <- setNames(as.numeric(gs$beta), terms)
  stopifnot(identical(unname(beta), unname(coef(fit))))
  se_robust <- setNames(sqrt(diag(gs$vbeta)), terms)
  se_model <- setNames(sqrt(diag(gs$vbeta.naiv)), terms)
  stopifnot(isTRUE(all.equal(unname(se_robust), unname(summary(fit)$coefficients[, "Std.err"]), tolerance = 1e-14)))
  exch <- cs$corstr == "exchangeable"
  alpha <- if (exch) unname(gs$alpha) else NULL
  scale <- unname(gs$gamma)
  converged <- gs$error == 0
  if (!converged) {
    failed[[cs$case]] <- sprintf("geese error code %d (no convergence in %d passes)", gs$error, ctrl$maxit)
    message(cs$case, ": did not converge")
    next
  }
  mu <- as.numeric(fitted(fit))
  if (cs$family == "binomial" && (any(mu <= 0) || any(mu >= 1))) {
    failed[[cs$case]] <- "fitted probabilities outside (0, 1)"
    next
  }

  ## checks of what geepack computes
  me <- moment_estimates(fit, d)
  checks <- list(
    scale_start_pearson = jnum(sum((d$y - fitted(g0))^2 / fam$variance(fitted(g0))) / nrow(d)),
    scale_moment_at_beta = jnum(me$scale),
    alpha_moment_at_beta = if (exch) jnum(me$pair_sum / (scale * me$n_pairs)) else NULL,
    alpha_minus_moment = if (exch) jnum(alpha - me$pair_sum / (scale * me$n_pairs)) else NULL)
  if (!cs$scale_fix) stopifnot(abs(scale - me$scale) < 1e-8)
  if (exch) stopifnot(abs(alpha - me$pair_sum / (scale * me$n_pairs)) < 1e-8)
  if (!exch) {  # independence GEE = the glm; model-based vcov = scale * (X' W X)^-1 at the final beta,
                # W = mu.eta(eta)^2 / V(mu)
    X <- model.matrix(formula, d); eta <- as.numeric(X %*% beta)
    w <- fam$mu.eta(eta)^2 / fam$variance(fam$linkinv(eta))
    checks$beta_max_abs_diff_vs_glm <- jnum(max(abs(beta - coef(g0))))
    checks$se_model_max_abs_diff_vs_scale_times_inv_XtWX <-
      jnum(max(abs(se_model - sqrt(diag(scale * solve(crossprod(X, w * X)))))))
  }

  ## scale.fix = TRUE: geepack 1.3.9 never sets the scale to 1. geese.fit starts it at the mean
  ## squared Pearson residual of the start (glm) fit and, scale being fixed, never updates it
  ## (geeglm's scale.value cannot even be passed: it too ends up in model.frame). That start scale
  ## divides the residuals in the alpha estimator and multiplies the model-based variance.
  ## For the binomial cases also fit with the scale exactly 1: geese(..., gm = 1, b = start).
  scale_one <- NULL
  if (cs$scale_fix) {
    g1 <- geese(formula, id = cluster, data = d, family = fam, corstr = cs$corstr, scale.fix = TRUE,
                gm = 1, b = start, control = ctrl)
    stopifnot(g1$error == 0, g1$gamma == 1)
    b1 <- setNames(as.numeric(g1$beta), terms)
    scale_one <- list(
      call = sprintf(paste0("geepack::geese(y ~ treated + factor(period), id = cluster, data = d, family = %s(link = \"%s\"), ",
                            "corstr = \"%s\", scale.fix = TRUE, gm = 1, b = start, control = %s)"),
                     cs$family, cs$link, cs$corstr, control_str),
      converged = g1$error == 0,
      beta = jnamed(b1),
      se_robust = jnamed(setNames(sqrt(diag(g1$vbeta)), terms)),
      se_model = jnamed(setNames(sqrt(diag(g1$vbeta.naiv)), terms)),
      vcov_robust = jmatrix(g1$vbeta),
      vcov_model = jmatrix(g1$vbeta.naiv),
      alpha = if (exch) jnum(unname(g1$alpha)) else NULL,
      scale = jnum(unname(g1$gamma)),
      max_abs_diff_vs_geeglm = jnamed(c(beta = max(abs(b1 - beta)),
                                        se_robust = max(abs(sqrt(diag(g1$vbeta)) - se_robust)),
                                        se_model = max(abs(sqrt(diag(g1$vbeta.naiv)) - se_model)),
                                        alpha = if (exch) abs(unname(g1$alpha) - alpha) else 0)))
  }

  ## refit with corstr = "fixed" at the estimated alpha: zcor from fixed2Zcor on the exchangeable
  ## matrix; waves = position of the row within its cluster (1..n_i), clusters of different sizes.
  refit <- NULL
  if (exch) {
    clusz <- as.integer(table(d$cluster))
    nmax <- max(clusz)
    cor_fixed <- matrix(alpha, nmax, nmax); diag(cor_fixed) <- 1
    zcor <- fixed2Zcor(cor_fixed, id = d$cluster, waves = sequence(clusz))
    stopifnot(length(zcor) == sum(clusz * (clusz - 1) / 2))
    rr <- fit_traced(d, fam, "fixed", cs$scale_fix, mustart, zcor)
    rb <- as.numeric(rr$fit$geese$beta)
    rse <- sqrt(diag(rr$fit$geese$vbeta))
    rsem <- sqrt(diag(rr$fit$geese$vbeta.naiv))
    diffs <- c(beta = max(abs(rb - beta)), se_robust = max(abs(rse - se_robust)),
               se_model = max(abs(rsem - se_model)), scale = abs(unname(rr$fit$geese$gamma) - scale))
    refit <- list(
      call = sprintf(paste0("geeglm(y ~ treated + factor(period), id = cluster, data = d, family = %s(link = \"%s\"), ",
                            "corstr = \"fixed\", zcor = fixed2Zcor(R, id = d$cluster, waves = sequence(table(d$cluster))), ",
                            "scale.fix = %s, std.err = \"san.se\"%s, control = %s)",
                            "  # R = %d x %d, 1 on the diagonal, the exchangeable alpha elsewhere"),
                     cs$family, cs$link, cs$scale_fix, if (is.null(mustart)) "" else ", mustart = mustart",
                     control_str, nmax, nmax),
      converged = rr$fit$geese$error == 0,
      iterations = rr$iterations,
      beta = jnamed(setNames(rb, terms)),
      se_robust = jnamed(setNames(rse, terms)),
      se_model = jnamed(setNames(rsem, terms)),
      scale = jnum(unname(rr$fit$geese$gamma)),
      max_abs_diff = jnamed(diffs))
    fixed_refit_max_diff <- max(diffs[c("beta", "se_robust")])
    if (fixed_refit_max_diff > 1e-8) warning(cs$case, ": fixed refit differs by ", fixed_refit_max_diff)
  }

  call_str <- sprintf(paste0("geepack::geeglm(y ~ treated + factor(period), id = cluster, data = d, ",
                             "family = %s(link = \"%s\"), corstr = \"%s\", scale.fix = %s, std.err = \"san.se\"%s, ",
                             "control = %s)"),
                      cs$family, cs$link, cs$corstr, cs$scale_fix,
                      if (is.null(mustart)) "" else ", mustart = mustart", control_str)
  out <- c(list(case = cs$case,
                data = basename(data_files[[cs$data]]),
                data_path = data_files[[cs$data]],
                formula = "y ~ treated + factor(period)",
                family = cs$family, link = cs$link, corstr = cs$corstr, scale_fix = cs$scale_fix,
                call = call_str,
                start = jnamed(start),
                start_source = start_note,
                terms = I(terms),
                beta = jnamed(beta),
                se_robust = jnamed(se_robust),
                se_model = jnamed(se_model),
                vcov_robust = jmatrix(gs$vbeta),
                vcov_model = jmatrix(gs$vbeta.naiv),
                alpha = jnum_or_null(alpha),
                scale = jnum(scale),
                n_obs = nrow(d),
                n_clusters = length(unique(d$cluster)),
                cluster_sizes = I(as.integer(table(d$cluster))),
                converged = converged,
                iterations = res$iterations,
                control = ctrl_json,
                control_default = ctrl_default_json,
                convergence_rule = paste("geepack (gee2.cc, gee_est): each pass makes one Fisher-scoring step for beta,",
                  "then updates the scale (unless scale.fix), then alpha (exchangeable); it stops when the largest",
                  "absolute change of any of them is <= epsilon, and sets error = 1 if maxit passes are used up.",
                  "iterations = number of passes (count of 'iter' lines printed with geese.control(trace = TRUE))."),
                checks = checks),
           if (cs$scale_fix) list(scale_one = scale_one),
           if (exch) list(fixed_refit_max_diff = jnum(fixed_refit_max_diff), fixed_refit = refit),
           versions,
           if (cs$data != "binary") list(simulation = list(seed = sim$seed, crossover_by_cluster = I(sim$crossover),
                                                             description = sim$description)))
  write_case_json(out, paste0(cs$case, ".json"))
  summary_rows[[cs$case]] <- data.frame(case = cs$case, beta_treated = beta[["treated"]],
    se_robust = se_robust[["treated"]], se_model = se_model[["treated"]],
    alpha = if (is.null(alpha)) NA else alpha, scale = scale, iter = res$iterations,
    fixed_diff = if (exch) fixed_refit_max_diff else NA)
}

options(width = 200, digits = 10)
print(do.call(rbind, summary_rows), row.names = FALSE)
if (length(failed)) { cat("Failed cases:\n"); print(failed) }
