# Sourced by the bench scripts: builds studiobake into $work/studiobake ($sb)
# and finds the real Studio tree ($STUDIO_DIR, else mastra $MASTRA_VERSION
# fetched through npm's registry config into $cache), whose precompressed
# variants it leaves in $cache: the timed bakes then read them from there.
go build -trimpath -o "$work/studiobake" .
sb="$work/studiobake"
cache=${BENCH_CACHE:-"${XDG_CACHE_HOME:-$HOME/.cache}/studiobake-bench"}
if [ -z "${STUDIO_DIR:-}" ]; then
  "$sb" build -q --mastra-version "${MASTRA_VERSION:-1.31.0}" --cache-dir "$cache" --precompress off --out "$work/warm"
  STUDIO_DIR="$cache/npm/mastra@${MASTRA_VERSION:-1.31.0}/studio"
fi
[ -f "$STUDIO_DIR/index.html" ] || { echo "bench: no Studio tree at $STUDIO_DIR" >&2; exit 1; }
"$sb" build -q --studio "$STUDIO_DIR" --cache-dir "$cache" --out "$work/warm"
rm -rf "$work/warm"
echo "Studio tree: $STUDIO_DIR ($(find "$STUDIO_DIR" -type f | wc -l) files, $(du -sb "$STUDIO_DIR" | cut -f1) bytes); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
