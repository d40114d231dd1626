# Reference values for formula functions (I(), scale(), log(), exp(), sqrt(), poly()):
# MASS::bacteria with I(week > 2) (glm, lme4::glmer, glmmTMB), a simulated Contraception-like
# data set with I(age^2) (glmer, glmmTMB), glms with scale(), log(), exp(), sqrt(), poly() and
# logical I(), and an lmer with scale(). Data are written as CSV and every model is fitted to
# the CSV as read back, so the Rust tests need no R.
#
# Run from this directory: nice -n 19 Rscript formula_functions.R
suppressPackageStartupMessages({
  library(MASS)
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})
source("../json_helpers.R")

# --- data -------------------------------------------------------------------------------------
b <- MASS::bacteria
bac <- data.frame(y = as.integer(b$y == "y"), week = b$week, trt = as.character(b$trt),
                  ID = as.character(b$ID))
write.csv(bac, "bacteria.csv", row.names = FALSE)

# Contraception-like: 1934 women in 60 districts, as mlmRev::Contraception (use, centred age,
# urban, living children 0/1/2/3+), plus a distance to the clinic (km, some missing), household
# size and a continuous score for the linear mixed model.
set.seed(20261207)
n_district <- 60
size <- sample(8:56, n_district, replace = TRUE)
district <- rep(sprintf("D%02d", seq_len(n_district)), size)
n <- length(district)
u <- rnorm(n_district, 0, 0.5)[match(district, sprintf("D%02d", seq_len(n_district)))]
age <- round(runif(n, -13.56, 19.44), 2)
urban <- ifelse(runif(n) < 0.3, "Y", "N")
children <- pmin(3, rpois(n, pmax(0.2, 1.5 + age / 8)))
livch <- ifelse(children >= 3, "3+", as.character(children))
distance <- round(rlnorm(n, 1.5, 0.7), 1)
distance[sample(n, 40)] <- NA
hhsize <- children + 1 + rpois(n, 1.5)
eta <- -1.1 + 0.005 * age - 0.004 * age^2 + 0.7 * (urban == "Y") + c(0, 0.8, 0.9, 0.85)[children + 1] + u
use <- rbinom(n, 1, plogis(eta))
score <- round(50 + 0.3 * age + 1.5 * (urban == "Y") - 0.2 * hhsize^1.5 + 2 * u + rnorm(n, 0, 4), 2)
contra <- data.frame(use, age, urban, livch, district, distance, hhsize, score)
write.csv(contra, "contraception_sim.csv", row.names = FALSE, na = "")

bac <- read.csv("bacteria.csv")
contra <- read.csv("contraception_sim.csv")

# --- fits -------------------------------------------------------------------------------------
polish_control <- glmerControl(optimizer = "nloptwrap",
  optCtrl = list(algorithm = "NLOPT_LN_BOBYQA", xtol_abs = 1e-12, ftol_abs = 1e-12,
                 xtol_rel = 0, ftol_rel = 0, maxeval = 1e5),
  nAGQ0initStep = FALSE, tolPwrss = 1e-12)

coef_table <- function(est, se) {
  list(terms = jstr(names(est)), estimate = jvec(unname(est)), std_error = jvec(unname(se)))
}

glm_case <- function(fml, d, family = binomial()) {
  f <- glm(as.formula(fml), family = family, data = d,
           control = glm.control(epsilon = 1e-14, maxit = 200))
  for (i in 1:5) {  # polish: restart from the converged coefficients
    f <- glm(as.formula(fml), family = family, data = d, start = coef(f),
             control = glm.control(epsilon = 1e-14, maxit = 200))
  }
  c(list(model = "glm", formula = fml, n_used = nobs(f),
         loglik = jnum(as.numeric(logLik(f)))),
    coef_table(coef(f), sqrt(diag(vcov(f)))))
}

glmer_case <- function(fml, d) {
  f <- glmer(as.formula(fml), data = d, family = binomial,
             control = glmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
  for (i in 1:4) {
    f <- glmer(as.formula(fml), data = d, family = binomial, control = polish_control,
               start = list(theta = getME(f, "theta"), fixef = fixef(f)))
  }
  vc <- as.data.frame(VarCorr(f))
  c(list(model = "glmer", formula = fml, n_used = nobs(f),
         loglik = jnum(as.numeric(logLik(f))), random_sd = jvec(vc$sdcor)),
    coef_table(fixef(f), sqrt(diag(as.matrix(vcov(f))))))
}

glmmtmb_case <- function(fml, d) {
  f <- glmmTMB(as.formula(fml), data = d, family = binomial)
  est <- fixef(f)$cond
  c(list(model = "glmmTMB", formula = fml, n_used = nobs(f),
         loglik = jnum(as.numeric(logLik(f))),
         random_sd = jvec(unname(attr(VarCorr(f)$cond[[1]], "stddev")))),
    coef_table(est, sqrt(diag(vcov(f)$cond))))
}

lmer_case <- function(fml, d) {
  f <- lmer(as.formula(fml), data = d, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
  vc <- as.data.frame(VarCorr(f))
  c(list(model = "lmer", formula = fml, n_used = nobs(f),
         REMLcrit = jnum(as.numeric(REMLcrit(f))), sigma = jnum(sigma(f)),
         random_sd = jvec(vc$sdcor)),
    coef_table(fixef(f), sqrt(diag(as.matrix(vcov(f))))))
}

# scale() and poly() as R computes them inside model.frame (on every row of the data, before
# rows with missing values elsewhere are dropped): the constants, for the counterfactual test.
sc <- scale(contra$hhsize)
pl <- poly(contra$age, 2)

bac_f <- "y ~ trt + I(week > 2) + (1 | ID)"
con_f <- "use ~ age + I(age^2) + urban + livch + (1 | district)"
cases <- list(
  bacteria_glm = c(list(data = "bacteria.csv"), glm_case("y ~ trt + I(week > 2)", bac)),
  bacteria_glmer = c(list(data = "bacteria.csv"), glmer_case(bac_f, bac)),
  bacteria_glmmTMB = c(list(data = "bacteria.csv"), glmmtmb_case(bac_f, bac)),
  contraception_glmer = c(list(data = "contraception_sim.csv"), glmer_case(con_f, contra)),
  contraception_glmmTMB = c(list(data = "contraception_sim.csv"), glmmtmb_case(con_f, contra)),
  # glmmTMB's standard errors come from a Hessian by finite differences of its gradient, coarse
  # for I(age^2) (a coefficient 1e-3 the size of age's): the same model with age^2 / 100 is
  # well scaled, and its SEs (those of I(age^2) are 1/100 of I(age^2/100)'s) agree with lme4's
  # to 3e-5, where the unscaled fit's differ by 8e-4.
  contraception_glmmTMB_rescaled = c(list(data = "contraception_sim.csv"), glmmtmb_case(
    "use ~ age + I(age^2/100) + urban + livch + (1 | district)", contra)),
  contraception_glm_scale_log_poly = c(list(data = "contraception_sim.csv"), glm_case(
    "use ~ poly(age, 2) + log(distance) + scale(hhsize) + urban + urban:scale(hhsize)", contra)),
  contraception_glm_exp_sqrt_logical = c(list(data = "contraception_sim.csv"), glm_case(
    "use ~ sqrt(distance) + exp(age/10) + I((age - 2)^2/10) + I(!(hhsize >= 4) | age < -5)",
    contra)),
  contraception_lmer_scale = c(list(data = "contraception_sim.csv"), lmer_case(
    "score ~ scale(age) + urban + I(hhsize^2) + (1 | district)", contra))
)

write_reference_json(list(
  generated_by = "formula_functions.R",
  r_version = R.version.string,
  packages = list(lme4 = as.character(packageVersion("lme4")),
                  glmmTMB = as.character(packageVersion("glmmTMB")),
                  MASS = as.character(packageVersion("MASS"))),
  scale_hhsize = list(center = jnum(attr(sc, "scaled:center")),
                      scale = jnum(attr(sc, "scaled:scale"))),
  poly_age_2 = list(alpha = jvec(attr(pl, "coefs")$alpha), norm2 = jvec(attr(pl, "coefs")$norm2),
                    first_rows = jmat(pl[1:5, ])),
  cases = cases
), "formula_functions.json")
