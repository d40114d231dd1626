#!/usr/bin/env Rscript
# How long lme4 takes for the exact randomisation test of benches/randomisation.rs (a): the
# 6-cluster stepped wedge over 7 periods (one cluster crossing over in each of periods 2..7),
# the first 2,609 patients of `simulate_cohort --clusters 6 --periods 7 --size 62.11904761904762
# --seed 2609` (columns cluster, period, treated, death30 in timing_g6_t7_2609.csv), model
# glmer(death30 ~ treated + factor(period) + (1 | cluster), binomial, Laplace).
#
# A loop of 50 glmer refits (allocations 1..50 of the 720 distinct permutations of the crossover
# vector, in ascending lexicographic order, as make_perm.R enumerates them) is timed 3 times for
# each of: cluster-period counts with lme4's default control, counts with make_perm.R's tight
# bobyqa control, and patient rows with the default control. The median of the 3 loops is
# extrapolated to the 720 allocations. Writes timing_glmer.json.
# Run from this directory:  nice -n 19 Rscript timing.R
suppressPackageStartupMessages({ library(lme4); library(jsonlite) })

d <- read.csv("timing_g6_t7_2609.csv")
ids <- sort(unique(d$cluster))
cross_obs <- sapply(ids, function(g) min(d$period[d$cluster == g & d$treated == 1]))
# The enumeration of make_perm.R (its next_perm and all_allocations, evaluated from its source).
for (e in parse("make_perm.R"))
  if (is.call(e) && identical(e[[1]], as.name("<-")) &&
      as.character(e[[2]]) %in% c("next_perm", "all_allocations")) eval(e)
A <- all_allocations(cross_obs)
allocations <- lapply(seq_len(nrow(A)), function(k) A[k, ])
stopifnot(length(allocations) == 720)
agg <- aggregate(cbind(ev = death30, n = 1) ~ cluster + period, data = d, FUN = sum)
agg$cidx <- match(agg$cluster, ids); d$cidx <- match(d$cluster, ids)
TIGHT <- glmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
loop <- function(fit_one) {
  t0 <- proc.time()[[3]]
  est <- vapply(1:50, function(k) fit_one(allocations[[k]]), numeric(1))
  list(seconds = proc.time()[[3]] - t0, estimates = est)
}
counts <- function(control) function(cross) {
  agg$trt <- as.integer(agg$period >= cross[agg$cidx])
  m <- suppressMessages(suppressWarnings(glmer(cbind(ev, n - ev) ~ trt + factor(period) + (1 | cluster),
                                               data = agg, family = binomial, control = control)))
  unname(fixef(m)["trt"])
}
patients <- function(cross) {
  d$trt <- as.integer(d$period >= cross[d$cidx])
  m <- suppressMessages(suppressWarnings(glmer(death30 ~ trt + factor(period) + (1 | cluster),
                                               data = d, family = binomial)))
  unname(fixef(m)["trt"])
}
variants <- list(counts_default = counts(glmerControl()), counts_tight = counts(TIGHT),
                 patients_default = patients)
out <- list(
  data = "timing_g6_t7_2609.csv", n_obs = nrow(d), n_clusters = length(ids),
  n_cluster_periods = nrow(agg), crossover_observed = cross_obs, n_allocations = 720,
  model = "glmer(death30 ~ treated + factor(period) + (1 | cluster), family = binomial, nAGQ = 1)",
  method = "3 timed loops of 50 refits (allocations 1..50); median loop, times 720 / 50",
  source = paste("lme4", packageVersion("lme4"), "glmer; R", getRversion()),
  cpu = tryCatch(trimws(sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"), value = TRUE)[1])),
                 error = function(e) NA_character_))
for (name in names(variants)) {
  loops <- lapply(1:3, function(r) loop(variants[[name]]))
  secs <- sapply(loops, `[[`, "seconds")
  out[[name]] <- list(loop_seconds = secs, median_loop_seconds = median(secs),
                      seconds_per_refit = median(secs) / 50,
                      extrapolated_720_seconds = median(secs) * 720 / 50,
                      first_estimates = loops[[1]]$estimates[1:5])
  cat(sprintf("%-17s median loop of 50: %.2f s; per refit %.1f ms; 720 allocations: %.1f s\n",
              name, median(secs), 1000 * median(secs) / 50, median(secs) * 720 / 50))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE), "timing_glmer.json")
