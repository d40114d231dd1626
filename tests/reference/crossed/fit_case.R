# fit_case(): the glmer (Laplace, bobyqa) and glmmTMB (nlminb, rel.tol 1e-14) fits of one
# reference case, as a list in the format of crossed_reference.json's "cases".
# Sourced by crossed_reference.R and crossed_100k.R (which load lme4 and glmmTMB and source
# ../json_helpers.R for jstr, jvec and jnum first).
fit_case <- function(case) {
  g <- glmer(case$formula, data = case$data, family = case$family,
             control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5),
                                    check.conv.singular = "ignore"))
  # nlminb to a tight relative tolerance: its default stops about 1e-5 short in the estimates.
  t <- glmmTMB(case$formula, data = case$data, family = case$family,
               control = glmmTMBControl(optCtrl = list(iter.max = 1e4, eval.max = 1e4,
                                                       rel.tol = 1e-14)))
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
