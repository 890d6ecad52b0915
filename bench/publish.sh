#!/usr/bin/env bash
# bench/publish.sh: studiobake publish against `aws s3 sync` on a local
# S3-compatible server (versitygw), with the real Studio tree.
#
#   bench/publish.sh STUDIO            # a Studio tree (…/mastra/dist/studio) or a mastra version (1.31.0)
#   RUNS=5 bench/publish.sh /tmp/m/package/dist/studio
#   STUDIOBAKE_BIN=out/linux-x64/studiobake bench/publish.sh 1.31.0   # measure a given binary
#
# Measures, each the median of $RUNS runs into fresh buckets:
#   - first publish wall time (studiobake, aws s3 sync)
#   - a no-change republish after a fresh rebuild (new files, new mtimes)
#   - a one-file change (the favicon edited: a new hashed favicon and index.html;
#     goal: those two files and one release record written, besides the run's
#     claim on the prefix, written and removed)
# and counts requests and writes from versitygw's access log, not from
# studiobake's own counters. Needs: go, versitygw ($VERSITYGW, PATH or
# ~/go/bin: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0);
# aws (the AWS CLI, $AWS_CLI; Debian's awscli package works) for the
# comparison, skipped without it. Prints the load average: timings on a busy
# machine are not comparable with a quiet one, ratios are.
set -euo pipefail

studio=${1:?usage: bench/publish.sh STUDIO_DIR_OR_MASTRA_VERSION}
runs=${RUNS:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

vgw=${VERSITYGW:-$(command -v versitygw || echo "$HOME/go/bin/versitygw")}
[ -x "$vgw" ] || { echo "versitygw not found: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2; exit 1; }
awscli=${AWS_CLI:-aws} # e.g. AWS_CLI=/usr/bin/aws (Debian's awscli package)
have_aws=1; command -v "$awscli" >/dev/null || { have_aws=0; echo "note: aws CLI not found; comparison skipped" >&2; }

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN

port=${PORT:-$((20000 + RANDOM % 20000))}
endpoint=http://127.0.0.1:$port
log=$work/access.log
mkdir -p "$work/data"
"$vgw" --access bench --secret benchsecret --port "127.0.0.1:$port" --access-log "$log" --quiet posix "$work/data" >"$work/vgw.out" 2>&1 &
pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

if [ -n "${STUDIOBAKE_BIN:-}" ]; then
  cp "$STUDIOBAKE_BIN" "$work/studiobake" # e.g. a release build: release/build.sh OUT current
else
  (cd "$root" && go build -o "$work/studiobake" .)
fi
sb() { "$work/studiobake" "$@"; }
src=(--studio "$studio"); [ -d "$studio" ] || src=(--mastra-version "$studio")
bake() { sb build "${src[@]}" --out "$1" -q "${@:2}"; }

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
loglines() { [ -f "$log" ] && grep -c ' s3_' "$log" || echo 0; }
# ops FROM: the operations logged since line FROM, counted by name.
ops() { grep ' s3_' "$log" | tail -n +"$(( $1 + 1 ))" | grep -o ' s3_[A-Za-z0-9]*' | sort | uniq -c | awk '{printf "%s=%s ", substr($2,4), $1}'; }
writes() { grep ' s3_' "$log" | tail -n +"$(( $1 + 1 ))" | grep -cE ' s3_(PutObject|DeleteObjects?|CopyObject|CreateMultipartUpload|UploadPart|CompleteMultipartUpload) ' || true; }
total() { grep ' s3_' "$log" | tail -n +"$(( $1 + 1 ))" | wc -l | tr -d ' '; }
S3=(--endpoint-url "$endpoint" --path-style)

bake "$work/bake1"
files=$(find "$work/bake1/site" -type f | wc -l | tr -d ' ')
bytes=$(du -sb "$work/bake1/site" | cut -f1)
echo "Studio: $studio; bake: $files files, $bytes bytes; versitygw on $endpoint; $runs runs each (median)"
[ $have_aws = 1 ] && echo "peer: $("$awscli" --version 2>&1)"

# 1. First publish into fresh buckets.
sb_first=(); aws_first=()
for i in $(seq "$runs"); do
  mkdir "$work/data/sb$i" "$work/data/aws$i"
  t0=$(now); sb publish "${S3[@]}" --bucket "sb$i" --dir "$work/bake1" >/dev/null; t1=$(now)
  sb_first+=("$(sub "$t0" "$t1")")
  if [ $have_aws = 1 ]; then
    t0=$(now); "$awscli" --endpoint-url "$endpoint" s3 sync --only-show-errors "$work/bake1/site" "s3://aws$i/" >/dev/null; t1=$(now)
    aws_first+=("$(sub "$t0" "$t1")")
  fi
done
m_sb_first=$(printf '%s\n' "${sb_first[@]}" | median)

# 2. No-change republish after a fresh rebuild (same input, new files and mtimes).
sb_nc=(); aws_nc=()
for i in $(seq "$runs"); do
  rm -rf "$work/bake2"; bake "$work/bake2"
  mark=$(loglines); t0=$(now); sb publish "${S3[@]}" --bucket "sb$i" --dir "$work/bake2" >/dev/null; t1=$(now)
  sb_nc+=("$(sub "$t0" "$t1")"); sb_nc_ops=$(ops "$mark"); sb_nc_w=$(writes "$mark"); sb_nc_n=$(total "$mark")
  if [ $have_aws = 1 ]; then
    mark=$(loglines); t0=$(now); "$awscli" --endpoint-url "$endpoint" s3 sync --only-show-errors "$work/bake2/site" "s3://aws$i/" >/dev/null; t1=$(now)
    aws_nc+=("$(sub "$t0" "$t1")"); aws_nc_ops=$(ops "$mark"); aws_nc_w=$(writes "$mark"); aws_nc_n=$(total "$mark")
  fi
done
m_sb_nc=$(printf '%s\n' "${sb_nc[@]}" | median)

# 3. One-file change: the favicon (unhashed in Studio, hashed by the bake) edited.
if [ -d "$studio" ]; then
  cp -r "$studio" "$work/studio2"
  for f in "$work"/studio2/*.svg; do printf '<!-- bench -->\n' >>"$f"; done
  sb build --studio "$work/studio2" --out "$work/bake3" -q
else
  bake "$work/bake3" --set MASTRA_TELEMETRY_DISABLED=true # then only index.html changes
fi
mark=$(loglines); t0=$(now); sb publish "${S3[@]}" --bucket sb1 --dir "$work/bake3" -v >"$work/change.out"; t1=$(now)
sb_ch=$(sub "$t0" "$t1"); sb_ch_ops=$(ops "$mark"); sb_ch_w=$(writes "$mark")
sb_ch_files=$(grep -c '^upload ' "$work/change.out" || true)

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
echo
printf '%-44s %10s   %s\n' "measure" "seconds" "server log (requests by kind)"
printf '%-44s %10.3f\n' "studiobake first publish" "$m_sb_first"
printf '%-44s %10.3f   %s(%s requests, %s writes)\n' "studiobake no-change republish after rebuild" "$m_sb_nc" "$sb_nc_ops" "$sb_nc_n" "$sb_nc_w"
printf '%-44s %10.3f   %s(%s writes: %s files, the release record, the claim written and removed)\n' "studiobake one-file change" "$sb_ch" "$sb_ch_ops" "$sb_ch_w" "$sb_ch_files"
if [ $have_aws = 1 ]; then
  m_aws_first=$(printf '%s\n' "${aws_first[@]}" | median)
  m_aws_nc=$(printf '%s\n' "${aws_nc[@]}" | median)
  printf '%-44s %10.3f\n' "aws s3 sync first upload" "$m_aws_first"
  printf '%-44s %10.3f   %s(%s requests, %s writes)\n' "aws s3 sync after rebuild" "$m_aws_nc" "$aws_nc_ops" "$aws_nc_n" "$aws_nc_w"
  echo
  echo "ratio first publish (aws s3 sync / studiobake): $(div "$m_aws_first" "$m_sb_first")x (goal >= 4x)"
  echo "ratio republish after rebuild (aws s3 sync / studiobake): $(div "$m_aws_nc" "$m_sb_nc")x; writes $aws_nc_w vs $sb_nc_w"
fi
