#!/usr/bin/env Rscript
## crossed_nbinom2.R -- the negative binomial NB2 with crossed random intercepts, glmmTMB
##
##   cd tests/reference/crossed && nice -n 19 Rscript crossed_nbinom2.R
##
## Reads grouseticks.csv (written by crossed_reference.R) and fits
## glmmTMB(TICKS ~ factor(YEAR) + HEIGHT_s + (1 | BROOD) + (1 | LOCATION), family = nbinom2)
## with rel.tol 1e-14; writes crossed_nbinom2.json beside this script.
suppressPackageStartupMessages({ library(glmmTMB); library(jsonlite) })
d <- read.csv("grouseticks.csv")
d$BROOD <- factor(d$BROOD); d$LOCATION <- factor(d$LOCATION)
f <- glmmTMB(TICKS ~ factor(YEAR) + HEIGHT_s + (1 | BROOD) + (1 | LOCATION),
             family = nbinom2, data = d,
             control = glmmTMBControl(optCtrl = list(rel.tol = 1e-14, iter.max = 1e4, eval.max = 1e4)))
vc <- VarCorr(f)$cond
out <- list(
  formula = "TICKS ~ factor(YEAR) + HEIGHT_s + (1 | BROOD) + (1 | LOCATION)",
  terms = names(fixef(f)$cond),
  estimate = unname(fixef(f)$cond),
  std_error = unname(sqrt(diag(vcov(f)$cond))),
  sd = list(BROOD = attr(vc$BROOD, "stddev")[[1]], LOCATION = attr(vc$LOCATION, "stddev")[[1]]),
  theta = sigma(f),
  loglik = as.numeric(logLik(f)),
  source = paste("glmmTMB", packageVersion("glmmTMB"), "R", getRversion()))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "crossed_nbinom2.json")
