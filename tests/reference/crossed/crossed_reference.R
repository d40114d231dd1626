# Crossed and nested random-effect references for stepwedge (issue 18, item 1).
#
# Run from this directory:  Rscript crossed_reference.R
#
# Writes
#   grouseticks.csv        lme4::grouseticks with HEIGHT_s = scale(HEIGHT) (so the tests do not
#                          depend on the formula's scale());
#   hospital_municipality.csv  a simulated crossed cohort: 30 hospitals x 98 municipalities,
#                          3,000 patients, logistic outcome death30 ~ treated + age + sex with
#                          crossed random intercepts (seed below);
#   crossed_reference.json glmer (Laplace) and glmmTMB fits of each case: fixed effects, SEs,
#                          random-effect SDs, log-likelihood.
suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})
source("../json_helpers.R")
source("fit_case.R")
options(digits = 15)

gt <- lme4::grouseticks
gt$HEIGHT_s <- as.numeric(scale(gt$HEIGHT))
out_gt <- data.frame(INDEX = as.character(gt$INDEX), TICKS = gt$TICKS,
                     BROOD = as.character(gt$BROOD), HEIGHT = gt$HEIGHT,
                     HEIGHT_s = gt$HEIGHT_s, YEAR = as.character(gt$YEAR),
                     LOCATION = as.character(gt$LOCATION))
write.csv(out_gt, "grouseticks.csv", row.names = FALSE, quote = FALSE)
gt <- read.csv("grouseticks.csv", colClasses = c(INDEX = "character", BROOD = "character",
                                               YEAR = "character", LOCATION = "character"))

set.seed(20261207L)
n <- 3000L
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
write.csv(hm, "hospital_municipality.csv", row.names = FALSE, quote = FALSE)
hm <- read.csv("hospital_municipality.csv")

# The uncorrelated (x || g) case on the same cohort: intercept and treatment effect by hospital.
cases <- list(
  list(id = "grouseticks_crossed", data = gt, family = poisson,
       formula = TICKS ~ YEAR + HEIGHT_s + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)),
  list(id = "grouseticks_nested", data = gt, family = poisson,
       formula = TICKS ~ YEAR + HEIGHT_s + (1 | LOCATION/BROOD)),
  list(id = "hospital_municipality", data = hm, family = binomial,
       formula = death30 ~ treated + age + sex + (1 | hospital) + (1 | municipality)),
  list(id = "uncorrelated_slope", data = hm, family = binomial,
       formula = death30 ~ treated + age + sex + (1 + treated || hospital))
)

write_reference_json(list(cases = lapply(cases, fit_case)), "crossed_reference.json")
