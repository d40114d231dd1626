# fit_case(): the glmer (Laplace, bobyqa) and glmmTMB (nlminb, rel.tol 1e-14) fits of one
# reference case, as a list in the format of crossed_reference.json's "cases".
# Sourced by crossed_reference.R and crossed_100k.R (which load lme4 and glmmTMB and source
# ../json_helpers.R for jstr, jvec and jnum first).
#
# With polish = TRUE (crossed_100k.R; crossed_reference.R does not polish) glmmTMB's optimiser is
# nlminb_newton: nlminb with the same control, then Newton steps on TMB's exact gradient (the
# Hessian by numDeriv::jacobian of the gradient) for as long as the largest gradient component
# falls, to 1e-10; the point reached becomes TMB's best, so vcov() and logLik() are taken there.

nlminb_newton <- function(par, fn, gr, control = list(), ...) {
  opt <- nlminb(par, fn, gr, control = control)
  x <- opt$par
  gx <- as.numeric(gr(x))
  for (step in 1:10) {
    if (max(abs(gx)) < 1e-10) break
    h <- numDeriv::jacobian(function(z) as.numeric(gr(z)), x)
    x_new <- x - solve((h + t(h)) / 2, gx)
    g_new <- as.numeric(gr(x_new))
    if (!all(is.finite(g_new)) || max(abs(g_new)) >= max(abs(gx))) break
    x <- x_new
    gx <- g_new
  }
  environment(fn)$value.best <- Inf
  list(par = x, objective = fn(x), convergence = opt$convergence, message = opt$message,
       iterations = opt$iterations, evaluations = opt$evaluations)
}

fit_case <- function(case, polish = FALSE) {
  g <- glmer(case$formula, data = case$data, family = case$family,
             control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                                    check.conv.singular = "ignore"))
  # nlminb to a tight relative tolerance: its default stops about 1e-5 short in the estimates.
  tmb_control <- if (polish) {
    glmmTMBControl(optimizer = nlminb_newton,
                   optCtrl = list(iter.max = 1e4, eval.max = 1e4, rel.tol = 1e-14))
  } else {
    glmmTMBControl(optCtrl = list(iter.max = 1e4, eval.max = 1e4, rel.tol = 1e-14))
  }
  t <- glmmTMB(case$formula, data = case$data, family = case$family, control = tmb_control)
  vc <- as.data.frame(VarCorr(g))
  vc <- vc[is.na(vc$var2), ]
  tsd <- unlist(lapply(VarCorr(t)$cond, function(v) attr(v, "stddev")))
  list(
    id = jstr(case$id),
    formula = jstr(paste(deparse(case$formula, width.cutoff = 500), collapse = "")),
    family = jstr(case$family()$family),
    names = jstr(names(fixef(g))),
    glmer = list(beta = jvec(unname(fixef(g))),
                 se = jvec(unname(sqrt(diag(as.matrix(vcov(g)))))),
                 sd_groups = jstr(vc$grp), sd_terms = jstr(vc$var1),
                 sd = jvec(vc$sdcor), theta = jvec(unname(getME(g, "theta"))),
                 loglik = jnum(as.numeric(logLik(g)))),
    glmmtmb = list(beta = jvec(unname(fixef(t)$cond)),
                   se = jvec(unname(sqrt(diag(vcov(t)$cond)))),
                   sd_names = jstr(names(tsd)), sd = jvec(unname(tsd)),
                   loglik = jnum(as.numeric(logLik(t))))
  )
}
