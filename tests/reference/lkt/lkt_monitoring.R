#!/usr/bin/env Rscript
## lkt_monitoring.R -- independent reference values for the LKT monitoring pipeline
##
##   nice -n 19 Rscript tests/reference/lkt/lkt_monitoring.R   (from the repository root)
##
## Reads data-samples/lkt_synthetic.csv, derives the four indicators with base R date
## arithmetic (not the library's outcomes module), counts events and patients with a known
## indicator by team and month of surgery, and fits the case-mix model
## glm(indicator ~ age + sex + residence + asa, binomial) to all teams pooled for the
## expected events per team.  Writes lkt_monitoring.json beside this script.
suppressPackageStartupMessages(library(jsonlite))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)][1])))
d <- read.csv("data-samples/lkt_synthetic.csv", na.strings = "NA", encoding = "UTF-8")
surg <- as.Date(d$surgery_date); dis <- as.Date(d$discharge_date)
dd <- as.Date(d$death_date); rd <- as.Date(d$readmission_date)
d$death30 <- as.integer(!is.na(dd) & as.numeric(dd - surg) <= 30)
d$readmit30 <- ifelse(is.na(dis), NA, as.integer(!is.na(rd) & as.numeric(rd - dis) <= 30))
d$cas_regained <- ifelse(is.na(d$cas_followup) | is.na(d$cas_pre), NA,
                         as.integer(d$cas_followup >= d$cas_pre))
d$nms_regained <- ifelse(is.na(d$nms_followup) | is.na(d$nms_pre), NA,
                         as.integer(d$nms_followup >= d$nms_pre))
d$month <- format(surg, "%Y-%m")
months <- format(seq(as.Date(paste0(min(d$month), "-01")), as.Date(paste0(max(d$month), "-01")),
                     by = "month"), "%Y-%m")
teams <- sort(unique(d$team), method = "radix")   # byte order, as the library sorts labels
out <- list(months = months, teams = teams, source = paste("R", getRversion(), "base glm"))
for (ind in c("readmit30", "death30", "cas_regained", "nms_regained")) {
  known <- !is.na(d[[ind]])
  events <- lapply(teams, function(t) sapply(months, function(m)
    sum(d[[ind]][known & d$team == t & d$month == m]), USE.NAMES = FALSE))
  patients <- lapply(teams, function(t) sapply(months, function(m)
    sum(known & d$team == t & d$month == m), USE.NAMES = FALSE))
  missing <- sapply(teams, function(t) sum(!known & d$team == t), USE.NAMES = FALSE)
  fit <- glm(as.formula(paste(ind, "~ age + sex + residence + asa")), binomial, data = d)
  used <- d[as.integer(names(fitted(fit))), ]
  expected <- sapply(teams, function(t) sum(fitted(fit)[used$team == t]), USE.NAMES = FALSE)
  observed <- sapply(teams, function(t) sum(used[[ind]][used$team == t]), USE.NAMES = FALSE)
  out[[ind]] <- list(events = events, patients = patients, missing = missing,
                     observed = observed, expected = expected,
                     coefficients = as.list(coef(fit)))
}
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(here, "lkt_monitoring.json"))
