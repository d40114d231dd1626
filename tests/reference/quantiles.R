# Reference values for the distribution functions used by stepwedge.
#
# Run from this directory:
#   cd tests/reference && Rscript quantiles.R
# Writes quantiles.json. Pure function evaluations (no randomness); the seed
# is set only so that the script is deterministic by construction.

suppressPackageStartupMessages(library(jsonlite))
source("json_helpers.R")
set.seed(1)

rows <- function(...) {
  cols <- list(...)
  n <- length(cols[[1]])
  lapply(seq_len(n), function(i) lapply(cols, function(v) jnum(v[i])))
}

p_norm <- c(0.5, 0.9, 0.95, 0.975, 0.995)
df_t <- c(1, 2, 3, 5, 11, 30, 100, 1000)
x_pt <- c(-2.5, 1.3, 2.2)
df_pt <- c(3, 11, 49)
x_pnorm <- c(-3.3, -1.96, 0.4)
df_qchisq <- c(1, 2, 5)
x_pchisq <- c(3.84, 7.2, 0.5)
df_pchisq <- c(1, 1, 3)

out <- list(
  r_version = R.version.string,
  qnorm = rows(p = p_norm, value = qnorm(p_norm)),
  qt = rows(p = rep(0.975, length(df_t)), df = df_t, value = qt(0.975, df_t)),
  pt = rows(x = x_pt, df = df_pt, value = pt(x_pt, df = df_pt)),
  pnorm = rows(x = x_pnorm, value = pnorm(x_pnorm)),
  qchisq = rows(p = rep(0.95, length(df_qchisq)), df = df_qchisq,
                value = qchisq(0.95, df_qchisq)),
  pchisq_upper = rows(x = x_pchisq, df = df_pchisq,
                      value = pchisq(x_pchisq, df = df_pchisq, lower.tail = FALSE))
)

write_reference_json(out, "quantiles.json")
cat("wrote quantiles.json\n")
