#!/usr/bin/env bash
# Cross-compiles studiobake's release binaries: static (CGO_ENABLED=0),
# stripped, with the version stamped in and nothing that changes between two
# builds of the same commit (-trimpath, an empty build id, no VCS stamp), so
# anyone can rebuild a release and compare its SHA256SUMS.
#
#   release/build.sh OUTDIR [PLATFORM...]     # default: every platform below
#   VERSION=0.2.0 release/build.sh out linux-x64
#
# Platforms use Node's names (process.platform-arch), the names of the npm
# packages that ship them: linux-x64 linux-arm64 darwin-x64 darwin-arm64
# win32-x64. "current" is this machine's. VERSION defaults to the version of
# npm/studiobake/package.json; the binary reports v$VERSION.
# Output: OUTDIR/PLATFORM/studiobake[.exe] and OUTDIR/SHA256SUMS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
all=(linux-x64 linux-arm64 darwin-x64 darwin-arm64 win32-x64)

usage() { echo "usage: release/build.sh OUTDIR [PLATFORM...] (platforms: ${all[*]} current)" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1; shift
platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=("${all[@]}")

if [ -z "${VERSION:-}" ]; then
  VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/npm/studiobake/package.json")
fi
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  { echo "release/build.sh: invalid VERSION \"$VERSION\": want a SemVer such as 1.2.3" >&2; exit 1; }

# goTarget prints GOOS GOARCH for a platform name.
goTarget() {
  case $1 in
    linux-x64) echo linux amd64 ;;
    linux-arm64) echo linux arm64 ;;
    darwin-x64) echo darwin amd64 ;;
    darwin-arm64) echo darwin arm64 ;;
    win32-x64) echo windows amd64 ;;
    *) return 1 ;;
  esac
}
current() {
  local os arch
  case $(go env GOOS) in windows) os=win32 ;; *) os=$(go env GOOS) ;; esac
  case $(go env GOARCH) in amd64) arch=x64 ;; *) arch=$(go env GOARCH) ;; esac
  echo "$os-$arch"
}
for i in "${!platforms[@]}"; do
  [ "${platforms[$i]}" = current ] && platforms[$i]=$(current)
  goTarget "${platforms[$i]}" >/dev/null ||
    { echo "release/build.sh: unknown platform \"${platforms[$i]}\" (known: ${all[*]} current)" >&2; exit 2; }
done

# Size, which is what an npm install of studiobake costs (bench/npm.sh
# measures it against the Vite recipe's node_modules). Measured on linux-x64,
# 35.4 MB without these:
#  - urfave_cli_no_docs drops urfave/cli's man page and Markdown writers,
#    which studiobake never calls (0.25 MB);
#  - the AWS SDK's service packages are compiled without inlining (-l):
#    2.2 MB less. They are generated code for every operation of S3 (whose
#    client the linker cannot prune); a publish runs five of them, and waits
#    on the network, not on them (bench/publish.sh with STUDIOBAKE_BIN set to
#    either build). The SDK's core (signing, retries, HTTP) keeps inlining.
size=(-tags urfave_cli_no_docs "-gcflags=github.com/aws/aws-sdk-go-v2/service/...=-l")

mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$root"
sums=()
for p in "${platforms[@]}"; do
  read -r goos goarch < <(goTarget "$p")
  exe=studiobake
  [ "$goos" = windows ] && exe=studiobake.exe
  mkdir -p "$out/$p"
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -buildvcs=false "${size[@]}" \
    -ldflags "-s -w -buildid= -X main.version=v$VERSION" -o "$out/$p/$exe" .
  sums+=("$p/$exe")
  echo "built $p/$exe ($goos/$goarch, v$VERSION)" >&2
done
if command -v sha256sum >/dev/null; then sha=(sha256sum); else sha=(shasum -a 256); fi
(cd "$out" && "${sha[@]}" "${sums[@]}" > SHA256SUMS)
cat "$out/SHA256SUMS"
