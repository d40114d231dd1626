# R's times for the crossed-random-effects bench (benches/crossed_fit.rs): glmer (Laplace) and
# glmmTMB with their default controls on the data of crossed_reference.R and crossed_100k.R,
# all cases timed in one run: the median elapsed seconds of `runs` runs each (5 for every case;
# one fit of the 100,000-patient case takes about 15-20 s of CPU here, so it needs no fewer).
# Each case's `runs` is written to the JSON with its medians, and `wall_clock_seconds` is the
# elapsed time of the whole run.
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
hm100k <- read.csv("hospital_municipality_100k.csv")
cases <- list(
  a_grouseticks = list(data = gt, family = poisson, runs = 5,
                       formula = TICKS ~ YEAR + HEIGHT_s + (1 | BROOD) + (1 | INDEX) +
                         (1 | LOCATION)),
  b_hospital_municipality_3000 = list(data = hm, family = binomial, runs = 5,
                                      formula = death30 ~ treated + age + sex + (1 | hospital) +
                                        (1 | municipality)),
  c_hospital_municipality_100000 = list(data = hm100k, family = binomial, runs = 5,
                                        formula = death30 ~ treated + age + sex +
                                          (1 | hospital) + (1 | municipality))
)
median_time <- function(f, runs) median(replicate(runs, system.time(f())[["elapsed"]]))
start <- proc.time()[["elapsed"]]
out <- lapply(cases, function(case) list(
  runs = case$runs,
  glmer = median_time(function() glmer(case$formula, data = case$data, family = case$family),
                      case$runs),
  glmmTMB = median_time(function() glmmTMB(case$formula, data = case$data, family = case$family),
                        case$runs)
))
out$wall_clock_seconds <- proc.time()[["elapsed"]] - start
out$R <- R.version.string
write_json(out, "crossed_timings.json", auto_unbox = TRUE, digits = 4, pretty = TRUE)
