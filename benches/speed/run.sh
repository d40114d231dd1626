#!/usr/bin/env bash
# The README's speed table in one run: makes the data files of workloads.json, times R
# (timing.R: glmer / lmer, glmmTMB), the Rust glmm crate (glmm_crate/) and stepwedge (criterion
# benches; `swfit` as a whole process for `process` workloads), then writes results.json and the
# table between the README's speed-table markers (table.R).
#
#   benches/speed/run.sh [--full] [--data-dir=DIR]
#
# --full also times R on the workloads marked `slow` (glmer took about 25 minutes a fit on the
# 10^6-row cohort). DIR (default target/speed-data) keeps the data files between runs.
# Needs R with lme4, glmmTMB and jsonlite (Debian: r-cran-lme4 r-cran-glmmtmb r-cran-jsonlite)
# and GNU time (/usr/bin/time). R goes first, stepwedge last, on a machine left otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/../.."

full=""
data_dir="target/speed-data"
for arg in "$@"; do
  case "$arg" in
    --full) full="--full" ;;
    --data-dir=*) data_dir="${arg#--data-dir=}" ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

workloads=benches/speed/workloads.json
target_dir="${CARGO_TARGET_DIR:-target}"
run_dir="$target_dir/speed-run"
mkdir -p "$data_dir" "$run_dir"
rm -f "$run_dir"/r.json "$run_dir"/glmm_crate.json "$run_dir"/process.tsv

# The plan as tab-separated lines: data FILE KIND ARGS..., bench TARGET ID, process ID ARGS...
plan() {
  Rscript -e '
    spec <- jsonlite::fromJSON(commandArgs(TRUE)[1], simplifyVector = FALSE)
    for (file in names(spec$data)) {
      d <- spec$data[[file]]
      kind <- names(d)[1]
      cat(paste(c("data", file, kind, unlist(d[[kind]])), collapse = "\t"), "\n", sep = "")
    }
    for (w in spec$workloads) {
      if (!is.null(w$process)) {
        cat(paste(c("process", w$id, unlist(w$process)), collapse = "\t"), "\n", sep = "")
      } else {
        cat(paste("bench", w$bench, w$criterion, sep = "\t"), "\n", sep = "")
      }
    }' "$workloads"
}

cargo build --release --example simulate_cohort --example swfit
plan | while IFS=$'\t' read -r -a fields; do
  [ "${fields[0]}" = data ] || continue
  file="${fields[1]}"
  [ -s "$data_dir/$file" ] && continue
  echo "data: $file" >&2
  case "${fields[2]}" in
    copy) cp "${fields[3]}" "$data_dir/$file" ;;
    simulate_cohort)
      "$target_dir/release/examples/simulate_cohort" "${fields[@]:3}" --out "$data_dir/$file" ;;
    *) echo "run.sh: unknown data kind ${fields[2]} for $file" >&2; exit 1 ;;
  esac
done

load_before=$(cut -d' ' -f1 /proc/loadavg)
Rscript benches/speed/timing.R "$workloads" "$data_dir" "$run_dir/r.json" $full
cargo run --release --manifest-path benches/speed/glmm_crate/Cargo.toml -- \
  "$workloads" "$data_dir" "$run_dir/glmm_crate.json"

plan | while IFS=$'\t' read -r what target id; do
  [ "$what" = bench ] || continue
  cargo bench --bench "$target" -- --exact "$id"
done
plan | while IFS=$'\t' read -r -a fields; do
  [ "${fields[0]}" = process ] || continue
  id="${fields[1]}"
  arguments=("${fields[@]:2}")
  arguments=("${arguments[@]//\{data\}/$data_dir}")
  times=()
  peaks=()
  for _ in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$run_dir/time.txt" \
      "$target_dir/release/examples/swfit" "${arguments[@]}" >/dev/null
    read -r seconds kb <"$run_dir/time.txt"
    times+=("$seconds")
    peaks+=("$kb")
  done
  median=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 2p)
  peak=$(printf '%s\n' "${peaks[@]}" | sort -g | tail -1)
  printf '%s\t%s\t%s\n' "$id" "$median" "$((peak / 1024))" >>"$run_dir/process.tsv"
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

Rscript benches/speed/table.R "$workloads" "$run_dir" "$target_dir/criterion" README.md \
  "$(date -u +%F)" "$load_before before, $load_after after"
echo "run.sh: README.md and benches/speed/results.json written" >&2
