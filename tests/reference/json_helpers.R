# Helpers shared by the reference scripts: exact (round-trip) JSON numbers.
#
# jsonlite (1.8.x) caps numeric output at 15 significant digits even with
# digits = NA, which does not round-trip every double. To keep full precision
# every number is pre-formatted here with the shortest of %.15g / %.16g / %.17g
# that parses back to the identical double, and inserted verbatim
# (write_json(..., json_verbatim = TRUE)). The round-trip test uses jsonlite's
# JSON parser (C strtod, correctly rounded) rather than as.numeric(), whose
# own decimal parser is occasionally off by one ulp for 16-17 digit strings.
# %.17g (glibc printf, exact) is the fallback and always round-trips.

parse_json_numbers <- function(s) {
  jsonlite::fromJSON(paste0("[", paste(s, collapse = ","), "]"))
}

fmt_nums <- function(x) {
  out <- character(length(x))
  miss <- is.na(x)
  out[miss] <- "null"
  if (is.integer(x)) {
    out[!miss] <- as.character(x[!miss])
    return(out)
  }
  if (any(!is.finite(x[!miss]))) stop("non-finite number cannot be written to JSON")
  todo <- which(!miss)
  for (d in 15:16) {
    if (length(todo) == 0L) break
    s <- sprintf("%.*g", d, x[todo])
    ok <- parse_json_numbers(s) == x[todo]
    out[todo[ok]] <- s[ok]
    todo <- todo[!ok]
  }
  out[todo] <- sprintf("%.17g", x[todo])
  out
}

fmt_num <- function(x) {
  if (length(x) != 1L) stop("fmt_num expects a scalar")
  fmt_nums(x)
}

# scalar number -> verbatim JSON
jnum <- function(x) structure(fmt_num(x), class = "json")

# numeric vector -> verbatim JSON array (always an array, even for length 1)
jvec <- function(x) {
  structure(paste0("[", paste(fmt_nums(x), collapse = ","), "]"),
            class = "json")
}

# numeric matrix -> list of rows (array of arrays)
jmat <- function(m) {
  lapply(seq_len(nrow(m)), function(i) jvec(unname(m[i, ])))
}

# character vector that must stay a JSON array under auto_unbox
jstr <- function(x) I(as.character(x))

write_reference_json <- function(x, path) {
  jsonlite::write_json(x, path, digits = NA, auto_unbox = TRUE, pretty = TRUE,
                       json_verbatim = TRUE)
}
