# Kenward-Roger reference values for stepwedge's linear mixed model (pbkrtest 0.5.2, lme4
# 1.1.31, lmerTest 3.1.3).
#
# Run from this directory:
#   cd tests/reference/kenward_roger && Rscript make_kenward_roger.R
#
# (1) writes lme4's sleepstudy to sleepstudy.csv and simulates a small stepped-wedge cost data
#     set (set.seed(20261207): 7 clusters, 6 periods, 6-14 patients per cluster-period, a
#     cluster and a cluster-period random intercept) to sw_costs.csv;
# (2) reads both CSV files back and fits, by REML, (a) Reaction ~ Days + (Days | Subject),
#     (b) cost ~ treated + factor(period) + (1 | cluster) and (c) cost ~ treated +
#     factor(period) + (1 | cluster) + (1 | cluster:period), and (d) model (c) of cost_flat,
#     whose cluster-period variance is estimated as 0 (pbkrtest keeps a variance parameter
#     on the boundary in its G list);
# (3) writes, per case, the unadjusted covariance vcov(fit) (Phi), pbkrtest's adjusted one
#     vcovAdj(fit) (Phi_A), the Kenward-Roger df of every coefficient (get_Lb_ddf with a unit
#     L), lmerTest's summary(fit, ddf = "Kenward-Roger") as a cross-check, and KRmodcomp of a
#     multi-row L (the Days pair in (a), every period effect in (b) and (c)): F, ndf, ddf,
#     the scaling factor and p, and the unscaled F; to kenward_roger.json (deterministic).

suppressPackageStartupMessages({
  library(lme4)
  library(pbkrtest)
  library(jsonlite)
})
if (!requireNamespace("lmerTest", quietly = TRUE)) stop("lmerTest is missing")
source("../json_helpers.R")
options(digits = 15)

write.csv(lme4::sleepstudy[, c("Reaction", "Days", "Subject")], "sleepstudy.csv", row.names = FALSE)

set.seed(20261207L)
G <- 7L; TP <- 6L
crossover <- c(2L, 2L, 3L, 4L, 4L, 5L, 6L)
u <- rnorm(G, 0, 900)
rows <- list()
for (g in seq_len(G)) for (t in seq_len(TP)) {
  n <- sample(6:14, 1)
  v <- rnorm(1, 0, 1200)
  treated <- as.integer(t >= crossover[g])
  e <- rnorm(n, 0, 2500)
  cost <- 12000 + 250 * t - 700 * treated + u[g] + v + e
  # the same patients without the cluster-period effect: a singular fit of model (c)
  cost_flat <- 12000 + 250 * t - 700 * treated + u[g] + e
  rows[[length(rows) + 1L]] <- data.frame(cluster = sprintf("K%02d", g), period = t,
                                           treated = treated, cost = round(cost, 2),
                                           cost_flat = round(cost_flat, 2))
}
write.csv(do.call(rbind, rows), "sw_costs.csv", row.names = FALSE)

sleep <- read.csv("sleepstudy.csv", stringsAsFactors = FALSE)
sw <- read.csv("sw_costs.csv", stringsAsFactors = FALSE)

LCTRL <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))

kr_case <- function(name, formula, data, L, L_terms) {
  fit <- lme4::lmer(formula, data = data, REML = TRUE, control = LCTRL)
  terms <- names(fixef(fit))
  Phi <- as.matrix(vcov(fit))
  PhiA <- vcovAdj(fit)
  p <- length(terms)
  ddf <- sapply(seq_len(p), function(j) { l <- matrix(0, 1, p); l[j] <- 1; get_Lb_ddf(fit, l) })
  lt <- lmerTest::as_lmerModLmerTest(fit)
  sm <- summary(lt, ddf = "Kenward-Roger")$coefficients
  colnames(L) <- terms
  kr <- KRmodcomp(fit, L)
  ft <- kr$test
  list(
    name = name, formula = deparse(formula), terms = jstr(terms), n_obs = nrow(data),
    theta = jvec(unname(getME(fit, "theta"))), sigma = jnum(sigma(fit)),
    reml_criterion = jnum(unname(REMLcrit(fit))), singular = isSingular(fit),
    beta = jvec(unname(fixef(fit))),
    se = jvec(sqrt(diag(Phi))), se_kr = jvec(sqrt(diag(as.matrix(PhiA)))), ddf_kr = jvec(ddf),
    vcov = jmat(Phi), vcov_kr = jmat(as.matrix(PhiA)),
    n_variance_parameters = length(attr(PhiA, "P")), W = jmat(as.matrix(attr(PhiA, "W"))),
    lmertest = list(se = jvec(unname(sm[, "Std. Error"])), df = jvec(unname(sm[, "df"])),
                    t = jvec(unname(sm[, "t value"])), p = jvec(unname(sm[, "Pr(>|t|)"]))),
    ftest = list(L_terms = jstr(L_terms), L = jmat(L), F = jnum(ft["Ftest", "stat"]),
                 ndf = ft["Ftest", "ndf"], ddf = jnum(ft["Ftest", "ddf"]),
                 F_scaling = jnum(ft["Ftest", "F.scaling"]), p = jnum(ft["Ftest", "p.value"]),
                 F_unscaled = jnum(ft["FtestU", "stat"]), p_unscaled = jnum(ft["FtestU", "p.value"]))
  )
}

unit_rows <- function(terms, which) {
  L <- matrix(0, length(which), length(terms))
  for (k in seq_along(which)) L[k, match(which[k], terms)] <- 1
  L
}

f_a <- Reaction ~ Days + (Days | Subject)
f_b <- cost ~ treated + factor(period) + (1 | cluster)
f_c <- cost ~ treated + factor(period) + (1 | cluster) + (1 | cluster:period)
f_d <- cost_flat ~ treated + factor(period) + (1 | cluster) + (1 | cluster:period)
sw_terms <- c("(Intercept)", "treated", paste0("factor(period)", 2:TP))
periods <- paste0("factor(period)", 2:TP)
# a contrast that is not a unit vector: the intercept plus Days (day 1's mean), and Days
L_a <- rbind(c(1, 1), c(0, 1))

cases <- list(
  kr_case("sleepstudy", f_a, sleep, L_a, c("(Intercept) + Days", "Days")),
  kr_case("sw_cluster", f_b, sw, unit_rows(sw_terms, periods), periods),
  kr_case("sw_cluster_period", f_c, sw, unit_rows(sw_terms, periods), periods),
  kr_case("sw_cluster_period_singular", f_d, sw, unit_rows(sw_terms, periods), periods)
)
out <- list(
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  pbkrtest = as.character(packageVersion("pbkrtest")),
                  lmerTest = as.character(packageVersion("lmerTest"))),
  control = "lmerControl(optimizer = \"bobyqa\", optCtrl = list(rhoend = 1e-12, maxfun = 1e5)), REML",
  definitions = "vcov = vcov(fit) (Phi); vcov_kr = pbkrtest::vcovAdj(fit) (Phi_A), se_kr its root diagonal; ddf_kr[j] = pbkrtest::get_Lb_ddf(fit, e_j'); W = attr(vcovAdj(fit), 'W'), twice the inverse expected REML information of the variance parameters in pbkrtest's order (each term's VarCorr lower triangle, column by column, then the residual variance); lmertest = summary(as_lmerModLmerTest(fit), ddf = 'Kenward-Roger'); ftest = KRmodcomp(fit, L)$test (Ftest and FtestU rows)",
  cases = cases
)
write_reference_json(out, "kenward_roger.json")
