#!/usr/bin/env bash
# Time to a baked Studio from a fresh, empty Node project with cold caches,
# three ways, in one run, with ratios against the npm package:
#
#   npm package   npm install -D studiobake (the tarballs npm/pack.sh packed,
#                 installed offline: they are local files until published),
#                 then npx studiobake build (it fetches mastra's tarball),
#                 timed at each --precompress level: best (the default),
#                 fast and off (what the Vite recipe writes)
#   Vite recipe   npm install vite mastra@1.31.0, then vite build with a
#                 config that copies node_modules/mastra/dist/studio
#                 (publicDir) and fills its %%MASTRA_*%% placeholders in
#                 index.html: the least a Vite build of Studio must do
#   go install    go install of this checkout with empty module and build
#                 caches (what go install ...@version downloads and
#                 compiles), then studiobake build
#
# and the installed footprint of studiobake against the recipe's node_modules.
# Needs node, npm, go and npm's registry (through npm's own configuration).
#
#   bench/npm.sh
#   VITE_SPEC=vite@8 bench/npm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MASTRA_VERSION=${MASTRA_VERSION:-1.31.0}
VITE_SPEC=${VITE_SPEC:-vite}
API=https://api.example.com/api
BASE=/agents
work=$(mktemp -d)
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

now() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }
fresh() { mkdir -p "$1"; printf '{"name": "studio-app", "version": "1.0.0", "private": true}\n' > "$1/package.json"; }
# Every path gets its own npm cache and user cache: nothing is warm.
quiet=(--no-audit --no-fund --loglevel=error)

echo "packing studiobake for this platform (not timed)..."
npm/pack.sh "$work/packed" >/dev/null 2>"$work/pack.log" || { cat "$work/pack.log" >&2; exit 1; }
version=$(node -p 'require("./npm/studiobake/package.json").version')
platform=$(node -p 'process.platform + "-" + process.arch')

# 1. The npm package.
a=$work/npm; fresh "$a/app"
t0=$(now)
(cd "$a/app" && npm_config_cache=$a/npm-cache npm install -D --offline "${quiet[@]}" \
  "$work/packed/studiobake-$version.tgz" "$work/packed/studiobake-$platform-$version.tgz" >/dev/null)
t1=$(now)
npm_install=$(ms "$t0" "$t1")
# The build three ways, each with its own empty user cache (studiobake's npm
# and variant caches): the default brotli 11 + gzip 9 variants, whose first
# bake of a Studio version pays about 15 s of CPU for its 7 MB chunk (later
# bakes read them from the cache); --precompress fast; and off, which
# writes what the Vite recipe writes (no variants).
for level in best fast off; do
  t1=$(now)
  (cd "$a/app" && XDG_CACHE_HOME=$a/user-cache-$level npm_config_cache=$a/npm-cache \
    npx studiobake build -q --server-url "$API" --base-path "$BASE" --precompress "$level" --out "dist-$level")
  t2=$(now)
  [ -f "$a/app/dist-$level/site/index.html" ] || { echo "bench: the npm package baked nothing (--precompress $level)" >&2; exit 1; }
  printf -v "npm_build_$level" %s "$(ms "$t1" "$t2")"
done
npm_bytes=$(du -sb "$a/app/node_modules" | cut -f1)

# 2. The Vite recipe.
v=$work/vite; fresh "$v/app"
cat > "$v/app/vite.config.mjs" <<'EOF'
// Studio as a Vite build: copy mastra's prebuilt tree, fill the placeholders.
import { readFileSync, writeFileSync } from 'node:fs';
import { defineConfig } from 'vite';

const values = {
  MASTRA_STUDIO_BASE_PATH: '/agents', MASTRA_SERVER_PROTOCOL: 'https', MASTRA_SERVER_HOST: 'api.example.com',
  MASTRA_SERVER_PORT: '443', MASTRA_API_PREFIX: '/api', MASTRA_TELEMETRY_DISABLED: 'true',
};
export default defineConfig({
  publicDir: 'node_modules/mastra/dist/studio',
  build: { outDir: 'dist', emptyOutDir: true, rollupOptions: { input: 'virtual:studio' } },
  plugins: [{
    name: 'mastra-studio',
    resolveId: (id) => (id === 'virtual:studio' ? id : null),
    load: (id) => (id === 'virtual:studio' ? 'export {}' : null),
    closeBundle() {
      const html = readFileSync('dist/index.html', 'utf8');
      writeFileSync('dist/index.html', html.replace(/%%(MASTRA_[A-Z0-9_]+)%%/g, (_, k) => values[k] ?? ''));
    },
  }],
});
EOF
t0=$(now)
(cd "$v/app" && npm_config_cache=$v/npm-cache npm install -D "${quiet[@]}" "$VITE_SPEC" "mastra@$MASTRA_VERSION" >/dev/null)
t1=$(now)
(cd "$v/app" && npm_config_cache=$v/npm-cache npx vite build --logLevel error)
t2=$(now)
grep -q 'api.example.com' "$v/app/dist/index.html" || { echo "bench: the Vite recipe baked nothing" >&2; exit 1; }
vite_install=$(ms "$t0" "$t1") vite_build=$(ms "$t1" "$t2")
vite_bytes=$(du -sb "$v/app/node_modules" | cut -f1)
vite_version=$(node -p "require('$v/app/node_modules/vite/package.json').version")

# 3. go install, then build.
g=$work/go; fresh "$g/app"
t0=$(now)
GOPATH=$g/gopath GOMODCACHE=$g/gopath/pkg/mod GOCACHE=$g/gocache GOFLAGS=-modcacherw go install -trimpath . 2>"$g/go.log" ||
  { cat "$g/go.log" >&2; exit 1; }
t1=$(now)
(cd "$g/app" && XDG_CACHE_HOME=$g/user-cache "$g/gopath/bin/studiobake" build -q --server-url "$API" --base-path "$BASE")
t2=$(now)
[ -f "$g/app/dist/site/index.html" ] || { echo "bench: go install + build baked nothing" >&2; exit 1; }
go_install=$(ms "$t0" "$t1") go_build=$(ms "$t1" "$t2")

awk -v ni="$npm_install" -v nb="$npm_build_best" -v nbf="$npm_build_fast" -v nbo="$npm_build_off" -v nf="$npm_bytes" \
    -v vi="$vite_install" -v vb="$vite_build" -v vf="$vite_bytes" -v vv="$vite_version" \
    -v gi="$go_install" -v gb="$go_build" -v m="$MASTRA_VERSION" 'BEGIN {
  n = ni + nb; nfa = ni + nbf; no = ni + nbo; v = vi + vb; g = gi + gb
  printf "time to a baked Studio (mastra %s), fresh project, cold caches:\n", m
  printf "  npm package  %7.1f s  (install %.1f s, installed from packed tarballs; build %.1f s, fetches mastra, brotli 11 variants)\n", n/1000, ni/1000, nb/1000
  printf "    --precompress fast  %7.1f s  (build %.1f s)\n", nfa/1000, nbf/1000
  printf "    --precompress off   %7.1f s  (build %.1f s: no variants, as the Vite recipe)\n", no/1000, nbo/1000
  printf "  Vite recipe  %7.1f s  (npm install vite@%s mastra %.1f s; vite build %.1f s)\n", v/1000, vv, vi/1000, vb/1000
  printf "  go install   %7.1f s  (go install %.1f s; build %.1f s)\n", g/1000, gi/1000, gb/1000
  printf "Vite recipe / npm package: %.1fx with variants at best, %.1fx at fast, %.1fx without (goal >= 5x)\n", v/n, v/nfa, v/no
  printf "go install  / npm package: %.1fx\n", g/n
  printf "installed footprint: studiobake %.1f MB, the recipe'"'"'s node_modules %.1f MB: %.1f%% (goal <= 12.5%%)\n", nf/1e6, vf/1e6, 100*nf/vf
}'
