#!/usr/bin/env Rscript
# Reference values for tests/effects_reference.rs.
#
# For each 2x2 table (treated: a events of n1; control: c events of n0) this script records what
# R 4.x gives for
#   * fisher.test            p.value, estimate (conditional MLE), conf.int (exact conditional)
#   * chisq.test             statistic and p.value, correct = TRUE and correct = FALSE
#   * prop.test(correct = FALSE)   Wilson score limits of each group's risk, and the two-sample
#                                  Wald interval of the risk difference (clamped to [-1, 1])
# and, computed here from their textbook formulas,
#   * Woolf's log-scale Wald interval of the odds ratio
#   * the log-scale Wald interval of the relative risk
#   * the Wald interval of the risk difference (must equal prop.test's)
#   * Newcombe's hybrid score interval (method 10) from the two Wilson intervals.
#
# fisher.test finds its estimate and limits with uniroot() at R's default tolerance
# (.Machine$double.eps^0.25, about 1.2e-4, absolute, on the scale t in (0, 1) or 1/t), so its
# values are exact only to that tolerance. To show how far they are from the exact root, the
# script also solves the same equations on the log odds-ratio scale to tol = 1e-13
# ("fisher_precise"); the Rust tests compare against both.
#
# Run from the repository root:
#   Rscript tests/reference/effects_reference.R
# which writes tests/reference/effects_reference.json.

suppressPackageStartupMessages(library(jsonlite))

level <- 0.95

tables <- list(
  list(name = "kth_readmission", a = 14, n1 = 100, c = 46, n0 = 152),
  list(name = "kth_mortality", a = 6, n1 = 100, c = 20, n0 = 152),
  list(name = "rollout_2025_mortality", a = 42, n1 = 524, c = 248, n0 = 2085),
  list(name = "small_1_12_vs_7_15", a = 1, n1 = 12, c = 7, n0 = 15),
  list(name = "zero_0_20_vs_5_20", a = 0, n1 = 20, c = 5, n0 = 20),
  list(name = "zero_control_5_20_vs_0_20", a = 5, n1 = 20, c = 0, n0 = 20),
  list(name = "high_30_40_vs_10_40", a = 30, n1 = 40, c = 10, n0 = 40),
  list(name = "equal_10_50_vs_10_50", a = 10, n1 = 50, c = 10, n0 = 50)
)

# The table as R's tests want it: rows treated / control, columns event / no event.
as_matrix <- function(t) {
  matrix(c(t$a, t$c, t$n1 - t$a, t$n0 - t$c), nrow = 2,
         dimnames = list(group = c("treated", "control"), outcome = c("event", "none")))
}

interval <- function(estimate, low, high) {
  list(estimate = estimate, ci_low = low, ci_high = high, level = level)
}

wilson <- function(x, n) {
  pt <- prop.test(x, n, conf.level = level, correct = FALSE)
  interval(x / n, pt$conf.int[1], pt$conf.int[2])
}

# Conditional (noncentral hypergeometric) distribution of the treated event count, solved
# precisely on the log scale: an independent check of fisher.test's uniroot results.
fisher_precise <- function(t) {
  m <- t$a + t$c
  k <- t$n1
  nn <- t$n0 + t$n1 - m
  lo <- max(0, k - nn)
  hi <- min(k, m)
  s <- lo:hi
  logdc <- dhyper(s, m, nn, k, log = TRUE)
  dens <- function(u) {
    d <- logdc + u * s
    d <- exp(d - max(d))
    d / sum(d)
  }
  x <- t$a
  alpha <- (1 - level) / 2
  solve <- function(f) {
    r <- uniroot(f, c(-50, 50), tol = 1e-13, extendInt = "yes", maxiter = 10000)
    exp(r$root)
  }
  estimate <- if (x == lo) 0 else if (x == hi) Inf else
    solve(function(u) sum(s * dens(u)) - x)
  low <- if (x == lo) 0 else solve(function(u) sum(dens(u)[s >= x]) - alpha)
  high <- if (x == hi) Inf else solve(function(u) sum(dens(u)[s <= x]) - alpha)
  interval(estimate, low, high)
}

reference <- function(t) {
  x <- as_matrix(t)
  z <- qnorm(1 - (1 - level) / 2)
  b <- t$n1 - t$a
  d <- t$n0 - t$c
  p1 <- t$a / t$n1
  p0 <- t$c / t$n0

  ft <- fisher.test(x, conf.level = level)
  chi_y <- suppressWarnings(chisq.test(x, correct = TRUE))
  chi_n <- suppressWarnings(chisq.test(x, correct = FALSE))
  pt2 <- suppressWarnings(prop.test(c(t$a, t$c), c(t$n1, t$n0), conf.level = level,
                                    correct = FALSE))

  r1 <- wilson(t$a, t$n1)
  r0 <- wilson(t$c, t$n0)

  out <- list(
    name = t$name, a = t$a, n1 = t$n1, c = t$c, n0 = t$n0,
    risk_treated = r1,
    risk_control = r0,
    fisher = list(p_value = ft$p.value, estimate = unname(ft$estimate),
                  ci_low = ft$conf.int[1], ci_high = ft$conf.int[2], level = level),
    fisher_precise = fisher_precise(t),
    chisq_yates = list(statistic = unname(chi_y$statistic), df = unname(chi_y$parameter),
                       p_value = chi_y$p.value),
    chisq_pearson = list(statistic = unname(chi_n$statistic), df = unname(chi_n$parameter),
                         p_value = chi_n$p.value),
    rd_prop_test = interval(p1 - p0, pt2$conf.int[1], pt2$conf.int[2])
  )

  # Woolf: log OR +- z sqrt(1/a + 1/b + 1/c + 1/d); needs every cell > 0.
  if (min(t$a, b, t$c, d) > 0) {
    lor <- log(t$a * d / (b * t$c))
    se <- sqrt(1 / t$a + 1 / b + 1 / t$c + 1 / d)
    out$or_wald <- interval(exp(lor), exp(lor - z * se), exp(lor + z * se))
  }
  # Relative risk: log RR +- z sqrt(1/a - 1/n1 + 1/c - 1/n0); needs a > 0 and c > 0.
  if (t$a > 0 && t$c > 0) {
    lrr <- log(p1 / p0)
    se <- sqrt(1 / t$a - 1 / t$n1 + 1 / t$c - 1 / t$n0)
    out$rr_wald <- interval(exp(lrr), exp(lrr - z * se), exp(lrr + z * se))
  }
  # Wald risk difference, clamped to [-1, 1] as prop.test does.
  se_rd <- sqrt(p1 * (1 - p1) / t$n1 + p0 * (1 - p0) / t$n0)
  out$rd_wald <- interval(p1 - p0, max(-1, p1 - p0 - z * se_rd), min(1, p1 - p0 + z * se_rd))
  # Newcombe (1998) method 10: hybrid score interval from the Wilson limits.
  out$rd_newcombe <- interval(
    p1 - p0,
    p1 - p0 - sqrt((p1 - r1$ci_low)^2 + (r0$ci_high - p0)^2),
    p1 - p0 + sqrt((r1$ci_high - p1)^2 + (p0 - r0$ci_low)^2)
  )
  out
}

result <- list(
  generated_by = "tests/reference/effects_reference.R",
  r_version = R.version.string,
  level = level,
  uniroot_tol = .Machine$double.eps^0.25,
  tables = lapply(tables, reference)
)

write_json(result, "tests/reference/effects_reference.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
