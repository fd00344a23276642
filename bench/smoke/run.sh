#!/usr/bin/env bash
# Benchmark of `hoist smoke` against Playwright Test on the same 20-page
# site (CSS, JS, images), one desktop viewport, the same checks, the same
# Chromium, in the same run. Prints a table of wall time, pages per second
# and the peak summed RSS of the browser's processes.
#
#   bench/smoke/run.sh [ROUNDS]      (default 3 measured rounds after a warm-up)
#
# Needs Go, Node with npm, and a headless Chromium (HOIST_CHROMIUM or the
# Debian chromium-headless-shell). npm installs @playwright/test locally
# without downloading any browser.
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS="${1:-3}"
PAGES=20
CHROMIUM="${HOIST_CHROMIUM:-/usr/lib/chromium/chromium-headless-shell}"
OUT=out
mkdir -p "$OUT"

echo "building hoist and the site generator" >&2
go build -o "$OUT/hoist" ../../cmd/hoist
go build -o "$OUT/gensite" ./gensite
if [ ! -x node_modules/.bin/playwright ]; then
  echo "installing @playwright/test (no browser download)" >&2
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent >&2
fi

rm -rf "$OUT/site"
"$OUT/gensite" -out "$OUT/site" -pages "$PAGES" -serve > "$OUT/url.txt" &
SERVER=$!
SAMPLER=""
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  kill "$SERVER" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 50); do [ -s "$OUT/url.txt" ] && break; sleep 0.1; done
BASE_URL=$(cat "$OUT/url.txt")

paths="/"
for i in $(seq 2 "$PAGES"); do paths="$paths,/page-$(printf %02d "$i").html"; done
{
  echo "smoke:"
  echo "  viewports: [ { name: desktop, width: 1280, height: 800 } ]"
  echo "  pages:"
  for p in ${paths//,/ }; do echo "    - { path: \"$p\", expect_text: Shop, expect_selector: .product, max_load_ms: 5000 }"; done
} > "$OUT/hoist.yml"

# Peak of the summed VmRSS (kB) of every Chromium process, sampled every
# 100 ms into $1 until killed.
sample_rss() {
  set +e
  local peak=0 cur
  while :; do
    # pgrep matches the process name (chromium-headless-shell shows as
    # "chromium-headle"); only those status files are read, to keep the
    # sampler light on a 2-core machine.
    cur=$(for p in $(pgrep 'chrom|headless' || true); do cat "/proc/$p/status" 2>/dev/null; done | awk '/^VmRSS:/{s+=$2} END{print s+0}')
    if [ "$cur" -gt "$peak" ]; then peak=$cur; echo "$peak" > "$1"; fi
    sleep 0.1
  done
}

now_ms() { date +%s%3N; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

run_hoist() {
  "$OUT/hoist" smoke "$BASE_URL" --config "$OUT/hoist.yml" --chromium "$CHROMIUM" --out "$OUT/hoist-report" --quiet > "$OUT/hoist.log"
}
run_hoist_lowmem() {
  "$OUT/hoist" smoke "$BASE_URL" --config "$OUT/hoist.yml" --chromium "$CHROMIUM" --out "$OUT/hoist-report" --quiet --low-memory > "$OUT/hoist.log"
}
run_playwright() {
  BASE_URL="$BASE_URL" PAGES="$paths" PW_CHROMIUM="$CHROMIUM" node_modules/.bin/playwright test > "$OUT/playwright.log" 2>&1
}

measure() { # tool round
  echo 0 > "$OUT/rss.peak"
  sample_rss "$OUT/rss.peak" 2>>"$OUT/sampler.log" &
  SAMPLER=$!
  local t0 t1 status=ok
  t0=$(now_ms)
  if ! "run_$1"; then status=FAILED; fi
  t1=$(now_ms)
  kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
  local ms=$((t1 - t0)) rss
  rss=$(( $(cat "$OUT/rss.peak") / 1024 ))
  printf "%-13s %5s %9s %10s %13d  %s\n" "$1" "$2" "$(div "$ms" 1000)" "$(div $((PAGES * 1000)) "$ms")" "$rss" "$status"
  echo "$1 $ms $rss" >> "$OUT/results.txt"
}

echo "warm-up (not counted)" >&2
run_hoist || true
run_playwright || true

: > "$OUT/results.txt"
echo "site: $PAGES pages at $BASE_URL, 1 viewport 1280x800, $(nproc) cores, $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
printf "%-13s %5s %9s %10s %13s\n" tool round seconds pages/s "peak RSS MB"
for r in $(seq "$ROUNDS"); do
  measure hoist "$r"
  measure hoist_lowmem "$r"
  measure playwright "$r"
done

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
h=$(awk '$1=="hoist"{print $2}' "$OUT/results.txt" | median)
p=$(awk '$1=="playwright"{print $2}' "$OUT/results.txt" | median)
hr=$(awk '$1=="hoist"{print $3}' "$OUT/results.txt" | median)
l=$(awk '$1=="hoist_lowmem"{print $2}' "$OUT/results.txt" | median)
lr=$(awk '$1=="hoist_lowmem"{print $3}' "$OUT/results.txt" | median)
pr=$(awk '$1=="playwright"{print $3}' "$OUT/results.txt" | median)
echo "medians:"
printf "  hoist              %6s s  %4s MB  (playwright/hoist %sx)\n" "$(div "$h" 1000)" "$hr" "$(div "$p" "$h")"
printf "  hoist --low-memory %6s s  %4s MB  (playwright/hoist %sx)\n" "$(div "$l" 1000)" "$lr" "$(div "$p" "$l")"
printf "  playwright         %6s s  %4s MB\n" "$(div "$p" 1000)" "$pr"
