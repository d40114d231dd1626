# Crossed random effects in the linear mixed model: reference values for stepwedge's Lmm
# (lme4 1.1.31, lmerTest 3.1.3, pbkrtest 0.5.2).
#
# Run from this directory:  Rscript crossed_lmm_reference.R
#
# Writes
#   penicillin.csv                  lme4::Penicillin (diameter, plate, sample);
#   hospital_municipality_cost.csv  ../crossed/hospital_municipality.csv (read, not rewritten)
#                                   with a simulated continuous cost added (set.seed(20261208)):
#                                   cost = 12000 - 800 treated + 600 age + 400 [sex M]
#                                   + u_hospital + v_hospital treated + u_municipality + e,
#                                   SDs 1500 (u_h), 700 (v_h), 900 (u_m), 3000 (e), rounded to
#                                   cents;
#   crossed_lmm_reference.json      per case: lmer fit (REML or ML), fixed effects, SEs,
#                                   random-effect SDs and correlations (VarCorr), residual SD,
#                                   theta, REML criterion (REML) or deviance (ML), logLik,
#                                   lmerTest's Satterthwaite df per coefficient and, for REML
#                                   fits of at most 1,000 rows, pbkrtest's Kenward-Roger df
#                                   (get_Lb_ddf with a unit L) and adjusted SEs (root diagonal of
#                                   vcovAdj); pbkrtest forms n x n matrices, so its Kenward-Roger
#                                   case of the cohort takes its first 600 rows.
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(jsonlite)
})
source("../json_helpers.R")
options(digits = 15)

pen <- lme4::Penicillin
write.csv(data.frame(diameter = pen$diameter, plate = as.character(pen$plate),
                     sample = as.character(pen$sample)),
          "penicillin.csv", row.names = FALSE, quote = FALSE)
pen <- read.csv("penicillin.csv", stringsAsFactors = FALSE)

hm <- read.csv("../crossed/hospital_municipality.csv", stringsAsFactors = FALSE)
set.seed(20261208L)
hospitals <- sort(unique(hm$hospital))
municipalities <- sort(unique(hm$municipality))
u_h <- rnorm(length(hospitals), 0, 1500)
v_h <- rnorm(length(hospitals), 0, 700)
u_m <- rnorm(length(municipalities), 0, 900)
h <- match(hm$hospital, hospitals)
m <- match(hm$municipality, municipalities)
e <- rnorm(nrow(hm), 0, 3000)
hm$cost <- round(12000 - 800 * hm$treated + 600 * hm$age + 400 * (hm$sex == "M") +
                 u_h[h] + v_h[h] * hm$treated + u_m[m] + e, 2)
write.csv(hm[, c("hospital", "municipality", "treated", "age", "sex", "cost")],
          "hospital_municipality_cost.csv", row.names = FALSE, quote = FALSE)
hm <- read.csv("hospital_municipality_cost.csv", stringsAsFactors = FALSE)

CTRL <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))

fit_case <- function(id, formula, data, reml) {
  fit <- lmerTest::lmer(formula, data = data, REML = reml, control = CTRL)
  sm <- summary(fit, ddf = "Satterthwaite")$coefficients
  vc <- as.data.frame(VarCorr(fit))
  sds <- vc[is.na(vc$var2) & vc$grp != "Residual", ]
  cors <- vc[!is.na(vc$var2), ]
  out <- list(
    id = jstr(id),
    formula = jstr(paste(deparse(formula, width.cutoff = 500), collapse = "")),
    reml = reml, n_obs = nrow(data),
    names = jstr(names(fixef(fit))),
    beta = jvec(unname(fixef(fit))),
    se = jvec(unname(sqrt(diag(as.matrix(vcov(fit)))))),
    sd_groups = jstr(sds$grp), sd_terms = jstr(sds$var1), sd = jvec(sds$sdcor),
    cor_groups = jstr(cors$grp), cor = jvec(cors$sdcor),
    sigma = jnum(sigma(fit)),
    theta = jvec(unname(getME(fit, "theta"))),
    criterion = jnum(if (reml) unname(REMLcrit(fit)) else deviance(fit)),
    loglik = jnum(as.numeric(logLik(fit))),
    df_satterthwaite = jvec(unname(sm[, "df"]))
  )
  if (reml && nrow(data) <= 1000) {
    p <- length(fixef(fit))
    fit4 <- lme4::lmer(formula, data = data, REML = TRUE, control = CTRL)
    adj <- as.matrix(vcovAdj(fit4))
    out$df_kr <- jvec(sapply(seq_len(p), function(j) {
      l <- matrix(0, 1, p); l[j] <- 1; get_Lb_ddf(fit4, l) }))
    out$se_kr <- jvec(sqrt(diag(adj)))
  }
  out
}

f_pen <- diameter ~ 1 + (1 | plate) + (1 | sample)
f_hm <- cost ~ treated + age + sex + (1 | hospital) + (1 | municipality)
f_slope <- cost ~ treated + age + sex + (1 + treated | hospital) + (1 | municipality)
t0 <- Sys.time()
cases <- list(
  fit_case("penicillin", f_pen, pen, TRUE),
  fit_case("penicillin_ml", f_pen, pen, FALSE),
  fit_case("hospital_municipality", f_hm, hm, TRUE),
  fit_case("hospital_municipality_ml", f_hm, hm, FALSE),
  fit_case("hospital_slope_municipality", f_slope, hm, TRUE),
  fit_case("hospital_municipality_600", f_hm, hm[1:600, ], TRUE),
  fit_case("hospital_slope_municipality_600", f_slope, hm[1:600, ], TRUE)
)
message("fits took ", format(Sys.time() - t0))
write_reference_json(list(
  versions = list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                  lmerTest = as.character(packageVersion("lmerTest")),
                  pbkrtest = as.character(packageVersion("pbkrtest"))),
  control = "lmerControl(optimizer = \"bobyqa\", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))",
  definitions = "beta = fixef; se = sqrt(diag(vcov)); sd = VarCorr SDs (sdcor, var2 NA, Residual left out) in lme4's order; cor = VarCorr correlations; criterion = REMLcrit (REML) or deviance (ML); df_satterthwaite = summary(lmerTest fit)$coefficients[, 'df']; df_kr[j] = pbkrtest::get_Lb_ddf(fit, e_j'); se_kr = sqrt(diag(pbkrtest::vcovAdj(fit)))",
  cases = cases), "crossed_lmm_reference.json")
