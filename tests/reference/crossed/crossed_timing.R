# R's times for the crossed-random-effects bench (benches/crossed_fit.rs): glmer (Laplace) and
# glmmTMB on the data of crossed_reference.R, median elapsed seconds of 5 runs each.
# Run from this directory:  Rscript crossed_timing.R   (writes crossed_timings.json; NOT
# deterministic).
suppressPackageStartupMessages({
  library(lme4)
  library(glmmTMB)
  library(jsonlite)
})
gt <- read.csv("grouseticks.csv", colClasses = c(INDEX = "character", BROOD = "character",
                                               YEAR = "character", LOCATION = "character"))
hm <- read.csv("hospital_municipality.csv")
cases <- list(
  a_grouseticks = list(data = gt, family = poisson,
                       formula = TICKS ~ YEAR + HEIGHT_s + (1 | BROOD) + (1 | INDEX) +
                         (1 | LOCATION)),
  b_hospital_municipality_3000 = list(data = hm, family = binomial,
                                      formula = death30 ~ treated + age + sex + (1 | hospital) +
                                        (1 | municipality))
)
median_time <- function(f, runs = 5) median(replicate(runs, system.time(f())[["elapsed"]]))
out <- lapply(cases, function(case) list(
  glmer = median_time(function() glmer(case$formula, data = case$data, family = case$family)),
  glmmTMB = median_time(function() glmmTMB(case$formula, data = case$data, family = case$family))
))
out$R <- R.version.string
write_json(out, "crossed_timings.json", auto_unbox = TRUE, digits = 4, pretty = TRUE)
