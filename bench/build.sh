#!/usr/bin/env bash
# Measures `studiobake build` on the real Studio tree against `cp -r` of the
# same tree, in the same run, and reports medians and their ratio, plus the
# bake's peak memory. Goal: at most 2x cp -r (median), at most 64 MiB.
#
#   bench/build.sh                 # fetches mastra 1.31.0 through npm's registry config
#   STUDIO_DIR=path/to/dist/studio bench/build.sh
#   RUNS=31 MASTRA_VERSION=1.31.0 bench/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-21}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. bench/studio.sh
echo "$RUNS runs each, interleaved; the bakes take their precompressed variants from $cache (bench/compress.sh measures a first bake)"

now() { date +%s%N; }
cp_times=() sb_times=() start_times=()
for i in $(seq "$RUNS"); do
  t0=$(now); "$sb" version >/dev/null; t1=$(now)
  start_times+=($(( (t1 - t0) / 1000 )))
  rm -rf "$work/cp" "$work/sb"
  sync
  t0=$(now); cp -r "$STUDIO_DIR" "$work/cp"; t1=$(now)
  cp_times+=($(( (t1 - t0) / 1000 )))
  t0=$(now); "$sb" build -q --studio "$STUDIO_DIR" --cache-dir "$cache" --base-path /agents --out "$work/sb"; t1=$(now)
  sb_times+=($(( (t1 - t0) / 1000 )))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
cp_med=$(median "${cp_times[@]}")
sb_med=$(median "${sb_times[@]}")
start_med=$(median "${start_times[@]}")

peak=0
for i in 1 2 3 4 5; do
  rm -rf "$work/sb"
  kb=$( { /usr/bin/time -f '%M' "$sb" build -q --studio "$STUDIO_DIR" --cache-dir "$cache" --base-path /agents --out "$work/sb"; } 2>&1 | tail -n 1)
  [ "$kb" -gt "$peak" ] && peak=$kb
done

awk -v c="$cp_med" -v s="$sb_med" -v v="$start_med" -v p="$peak" 'BEGIN {
  printf "cp -r              median %8.2f ms\n", c/1000
  printf "studiobake build   median %8.2f ms\n", s/1000
  printf "studiobake version median %8.2f ms   (process start: a fixed cost, whatever the tree)\n", v/1000
  printf "end-to-end ratio (build / cp -r): %.2fx\n", s/c
  printf "bake ratio without process start ((build - version) / cp -r): %.2fx   (goal <= 2x)\n", (s-v)/c
  printf "peak memory (max RSS of 5 bakes): %.1f MiB   (goal <= 64 MiB)\n", p/1024
}'

echo
echo "In-process (go test -bench, same run): BenchmarkBakeReal vs BenchmarkCopyReal"
STUDIOBAKE_STUDIO_DIR="$STUDIO_DIR" STUDIOBAKE_CACHE_DIR="$cache" go test -run '^$' -bench 'Real$' -benchtime "${RUNS}x" -count 3 ./build/ |
  awk '/^Benchmark/ { print; split($1, p, "-"); sum[p[1]] += $3; n[p[1]]++ }
       END { b = sum["BenchmarkBakeReal"] / n["BenchmarkBakeReal"]; c = sum["BenchmarkCopyReal"] / n["BenchmarkCopyReal"]
             printf "in-process ratio (bake / cp -r): %.2fx   (goal <= 2x)\n", b / c }'
