#!/usr/bin/env bash
# bench/compress.sh: what precompressed variants cost and what they save, on
# the real Studio tree, in one run.
#
#   bench/compress.sh                     # fetches mastra 1.31.0 through npm's registry config
#   STUDIO_DIR=path/to/dist/studio RUNS=11 bench/compress.sh
#
# Measures:
#   - bake time: --precompress off (what a bake cost before), the first bake
#     at best and at fast (empty variant cache), and a cached bake at best,
#     each against cp -r of the same tree (medians of $RUNS, interleaved;
#     goal for a cached bake: at most 2x cp -r), plus peak memory;
#   - the bytes publish uploads on top of the files (the variants);
#   - Studio's first load, cold, in headless Chromium through `serve` and
#     through the generated nginx (Debian's brotli module loaded): bytes on
#     the wire (DevTools encodedDataLength, headers included) against the
#     physical limit (each loaded file at its brotli 11 size) and against the
#     same page served without variants, which is what serve, nginx and
#     `mastra studio` sent before: every file raw.
# Needs go, chromium, nginx, libnginx-mod-http-brotli-static, jq. Prints the
# load average: timings on a busy machine are not comparable with a quiet
# one, ratios are.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-11}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. bench/studio.sh

now() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) / 1e6 }'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
bake() { "$sb" build -q --studio "$STUDIO_DIR" --base-path /agents --out "$work/out" "$@"; }

# First bakes: an empty variant cache each, timed once (brotli 11 is the
# long pole; repeating it would only repeat the same 20-odd seconds).
first() {
  rm -rf "$work/out" "$work/fresh"
  local t0 t1 kb
  t0=$(now)
  kb=$( { /usr/bin/time -f '%M' "$sb" build -q --studio "$STUDIO_DIR" --base-path /agents --out "$work/out" \
    --cache-dir "$work/fresh" --precompress "$1"; } 2>&1 | tail -n 1)
  t1=$(now)
  printf '%-34s %10s ms   peak %6.1f MiB\n' "first bake, --precompress $1" "$(ms "$t0" "$t1")" "$(awk -v k="$kb" 'BEGIN{print k/1024}')"
}
echo
first fast
first best

cp_t=() off_t=() best_t=()
for i in $(seq "$RUNS"); do
  rm -rf "$work/cp" "$work/out"; sync
  t0=$(now); cp -r "$STUDIO_DIR" "$work/cp"; t1=$(now); cp_t+=("$(ms "$t0" "$t1")")
  rm -rf "$work/out"
  t0=$(now); bake --precompress off; t1=$(now); off_t+=("$(ms "$t0" "$t1")")
  rm -rf "$work/out"
  t0=$(now); bake --precompress best --cache-dir "$cache"; t1=$(now); best_t+=("$(ms "$t0" "$t1")")
done
start_t=()
for i in $(seq "$RUNS"); do t0=$(now); "$sb" version >/dev/null; t1=$(now); start_t+=("$(ms "$t0" "$t1")"); done
cp_m=$(median "${cp_t[@]}"); off_m=$(median "${off_t[@]}"); best_m=$(median "${best_t[@]}"); start_m=$(median "${start_t[@]}")
peak=0
for i in 1 2 3; do
  rm -rf "$work/out"
  kb=$( { /usr/bin/time -f '%M' "$sb" build -q --studio "$STUDIO_DIR" --base-path /agents --out "$work/out" --cache-dir "$cache"; } 2>&1 | tail -n 1)
  [ "$kb" -gt "$peak" ] && peak=$kb
done
awk -v c="$cp_m" -v o="$off_m" -v b="$best_m" -v s="$start_m" -v p="$peak" -v n="$RUNS" 'BEGIN {
  printf "cp -r                              %10.1f ms   (median of %d)\n", c, n
  printf "bake, --precompress off (before)   %10.1f ms   %.2fx cp -r (%.2fx without the %.0f ms process start)\n", o, o/c, (o-s)/c, s
  printf "bake, best, variants cached        %10.1f ms   %.2fx cp -r (%.2fx without process start; goal <= 2x)   peak %.1f MiB\n", b, b/c, (b-s)/c, p/1024
}'

echo
"$sb" build --json --studio "$STUDIO_DIR" --base-path /agents --out "$work/out" --cache-dir "$cache" > "$work/build.json"
jq -r '"publish uploads \(.files) files, \(.bytes) bytes, plus \(.precompressed.variants) variants, \(.precompressed.bytes) bytes: +\(100 * .precompressed.bytes / .bytes | floor)% on a first publish; a new Studio version adds the variants of the files that changed"' "$work/build.json"

echo
echo "Studio's first load in Chromium (go test ./e2e -run TestStudioPrecompressedInBrowser):"
STUDIOBAKE_BENCH_COMPRESS=1 STUDIOBAKE_STUDIO_DIR="$STUDIO_DIR" STUDIOBAKE_CACHE_DIR="$cache" \
  go test -count=1 -run 'TestStudioPrecompressedInBrowser$' -timeout 10m ./e2e/ -v | sed -n 's/^BENCH //p'
