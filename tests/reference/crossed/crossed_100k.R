# The 100,000-patient crossed cohort for stepwedge (issue 18, items 5 and 6).
#
# Run from this directory:  Rscript crossed_100k.R
#
# Writes
#   hospital_municipality_100k.csv  100,000 simulated patients, 30 hospitals (H01..H30) crossed
#                          with 98 municipalities (M001..M098), with the generating model and
#                          columns of hospital_municipality.csv (crossed_reference.R): random-
#                          intercept SDs 0.5 and 0.3, logistic death30 ~ treated + age + sex;
#                          its own seed (below);
#   crossed_100k_reference.json  glmer (Laplace, bobyqa) and glmmTMB (nlminb, rel.tol 1e-14) fits
#                          of death30 ~ treated + age + sex + (1 | hospital) + (1 | municipality)
#                          on the data as read back, in the case format of crossed_reference.json
#                          (one case, id "hospital_municipality_100k").
#
# glmmTMB is polished (fit_case(case, polish = TRUE), see fit_case.R): on these data nlminb with
# rel.tol = 1e-14 stops with "singular convergence (7)" at a largest gradient component of 0.016,
# 1.4e-5 short in the intercept and 3.1e-5 in the hospital SD (log-likelihood 4.8e-7 below the
# maximum); two Newton steps on TMB's gradient bring that to about 3e-13.
suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})
source("../json_helpers.R")
source("fit_case.R")
options(digits = 15)

set.seed(20261208L)
n <- 100000L
hospitals <- sprintf("H%02d", 1:30)
municipalities <- sprintf("M%03d", 1:98)
u_h <- rnorm(30, 0, 0.5)
u_m <- rnorm(98, 0, 0.3)
h <- sample(30, n, replace = TRUE)
m <- sample(98, n, replace = TRUE)
treated <- rbinom(n, 1, 0.5)
age <- round(rnorm(n, 0, 1), 3)
sex <- ifelse(rbinom(n, 1, 0.6) == 1, "F", "M")
eta <- -1.5 - 0.3 * treated + 0.4 * age + 0.2 * (sex == "M") + u_h[h] + u_m[m]
death30 <- rbinom(n, 1, plogis(eta))
hm <- data.frame(hospital = hospitals[h], municipality = municipalities[m], treated = treated,
                 age = age, sex = sex, death30 = death30)
write.csv(hm, "hospital_municipality_100k.csv", row.names = FALSE, quote = FALSE)
hm <- read.csv("hospital_municipality_100k.csv")

case <- list(id = "hospital_municipality_100k", data = hm, family = binomial,
             formula = death30 ~ treated + age + sex + (1 | hospital) + (1 | municipality))
write_reference_json(list(cases = list(fit_case(case, polish = TRUE))),
                     "crossed_100k_reference.json")
