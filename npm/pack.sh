#!/usr/bin/env bash
# Packs studiobake's npm packages: builds the binaries (release/build.sh),
# lays out the launcher and one package per platform (npm/stage.js), and
# writes their .tgz files into OUTDIR, ready for npm install or npm publish.
#
#   npm/pack.sh OUTDIR                      # this machine's platform only
#   npm/pack.sh OUTDIR linux-x64 win32-x64  # named platforms
#   VERSION=0.2.0 npm/pack.sh OUTDIR all    # a release: every platform
#
# VERSION defaults to npm/studiobake/package.json's. Prints the .tgz paths.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: npm/pack.sh OUTDIR [PLATFORM...|all]" >&2; exit 2; }
command -v node >/dev/null && command -v npm >/dev/null ||
  { echo "npm/pack.sh: needs node and npm on PATH" >&2; exit 1; }
mkdir -p "$1"
out=$(cd "$1" && pwd); shift
platforms=("$@")
if [ ${#platforms[@]} -eq 0 ]; then
  platforms=("$(node -p 'process.platform + "-" + process.arch')")
elif [ "${platforms[*]}" = all ]; then
  platforms=($(node -p 'Object.keys(require(process.argv[1]).optionalDependencies).map(n => n.split("/")[1]).join(" ")' \
    "$here/studiobake/package.json"))
fi
export VERSION=${VERSION:-$(node -p 'require(process.argv[1]).version' "$here/studiobake/package.json")}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/../release/build.sh" "$work/build" "${platforms[@]}" >/dev/null
node "$here/stage.js" "$work/build" "$work/stage" "$VERSION" "${platforms[@]}"
for pkg in studiobake "${platforms[@]}"; do
  (cd "$work/stage/$pkg" && npm pack --loglevel=warn --pack-destination "$out" >/dev/null)
done
ls "$out"/studiobake-*"$VERSION".tgz
