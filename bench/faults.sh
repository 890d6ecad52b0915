#!/usr/bin/env bash
# bench/faults.sh: publish's fault and concurrency tests, longer and on more
# S3 servers than `go test ./...` runs them (versitygw only, one kill per
# request). Runs TestFaultsOnS3 (an outage from every request, with and
# without that request taking effect; SIGKILL of the run at SOAK seeded
# random requests per request of a fault-free run) and TestOverlappingRuns
# on each store, for SEEDS seeds, and prints each run's tallies. A failing
# run prints its seed: STUDIOBAKE_FAULT_SEED=<seed> replays it.
#
#   bench/faults.sh                         # versitygw and MinIO, SEEDS=2, SOAK=3
#   SEEDS=5 SOAK=10 bench/faults.sh
#   STORES=versitygw bench/faults.sh
#
# Needs: go; versitygw ($VERSITYGW, PATH or ~/go/bin); MinIO ($MINIO, PATH,
# or built here into $CACHE/bin with `go install github.com/minio/minio@latest`,
# about 4 minutes on 2 cores the first time; skipped with a note when that
# fails).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seeds=${SEEDS:-2}
soak=${SOAK:-3}
stores=${STORES:-versitygw minio}
cache=${CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/studiobake-bench}
export PATH="$PATH:$(go env GOPATH)/bin"

find_minio() {
  if [ -n "${MINIO:-}" ] && [ -x "$MINIO" ]; then echo "$MINIO"; return; fi
  if command -v minio >/dev/null; then command -v minio; return; fi
  if [ ! -x "$cache/bin/minio" ]; then
    echo "building MinIO into $cache/bin (go install github.com/minio/minio@latest)..." >&2
    GOBIN="$cache/bin" go install github.com/minio/minio@latest >&2 || return 0
  fi
  [ -x "$cache/bin/minio" ] && echo "$cache/bin/minio"
}

status=0
for store in $stores; do
  env=(STUDIOBAKE_TEST_S3="$store")
  if [ "$store" = minio ]; then
    bin=$(find_minio || true)
    if [ -z "$bin" ]; then echo "note: no MinIO; skipped" >&2; continue; fi
    env+=(MINIO="$bin")
  fi
  for _ in $(seq "$seeds"); do
    seed=${SEED:-$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')}
    out=$(cd "$root" && env "${env[@]}" STUDIOBAKE_FAULT_SEED="$seed" STUDIOBAKE_FAULT_SOAK="$soak" \
      go test -count=1 -timeout 60m -run '^(TestFaultsOnS3|TestOverlappingRuns)$' -v ./publish/ 2>&1) || status=1
    grep -E 'fault test on [a-z]+ \(seed|concurrency test on|^\s+--- FAIL|^FAIL' <<<"$out" || true
  done
done
exit $status
