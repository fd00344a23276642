#!/usr/bin/env bash
# Benchmark of `hoist smoke` against Playwright Test on the same 20-page
# site (CSS, JS, images), one desktop viewport, the same checks, the same
# Chromium, in the same run. Prints a table of wall time, pages per second,
# the peak summed RSS of the browser's processes and their CPU time (on a
# shared machine the CPU time is the steadier figure). hoist runs with its
# defaults (tabs sharing one renderer) and with --renderer-per-tab.
#
#   bench/smoke/run.sh [ROUNDS]      (default 3 measured rounds after a warm-up)
#
# Needs Go, Node with npm, and a headless Chromium (HOIST_CHROMIUM or the
# Debian chromium-headless-shell). npm installs @playwright/test locally
# without downloading any browser.
set -euo pipefail
# go.mod asks for Go 1.27.3 (standard-library security fixes); a machine
# with an older Go fetches that toolchain from the module proxy.
export GOTOOLCHAIN=go1.27.3
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

# Peak of the summed RSS (kB) of the Chromium processes under process $2,
# and the CPU time (user+system, clock ticks) they used, sampled every
# 100 ms into $1 as "rss ticks" until killed. Only the measured command's
# own browser counts, not other Chromium processes on the machine. A
# process's CPU time counts as last seen, so a renderer that ends during the
# run still counts.
sample_rss() {
  set +e
  local peak=0 cur ticks p pids
  declare -A cpu
  while :; do
    # One ps per sample; the command name of chromium-headless-shell is
    # "chromium-headle".
    read -r cur pids < <(ps -e -o pid=,ppid=,rss=,comm= | awk -v root="$2" '
      { pp[$1] = $2; rss[$1] = $3; name[$1] = $4 }
      END {
        for (p in pp) {
          if (name[p] !~ /chrom|headless/) continue
          q = p; n = 0
          while (q > 1 && q != root && n++ < 64) q = pp[q]
          if (q == root) { s += rss[p]; l = l " " p }
        }
        print s + 0, l
      }')
    for p in $pids; do
      ticks=$(awk '{sub(/.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null) && [ -n "$ticks" ] && cpu[$p]=$ticks
    done
    [ "$cur" -gt "$peak" ] && peak=$cur
    ticks=0; for p in "${!cpu[@]}"; do ticks=$((ticks + cpu[$p])); done
    echo "$peak $ticks" > "$1.tmp" && mv "$1.tmp" "$1"
    sleep 0.1
  done
}

now_ms() { date +%s%3N; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

run_hoist() {
  "$OUT/hoist" smoke "$BASE_URL" --config "$OUT/hoist.yml" --chromium "$CHROMIUM" --out "$OUT/hoist-report" --quiet > "$OUT/hoist.log"
}
run_hoist_pertab() {
  "$OUT/hoist" smoke "$BASE_URL" --config "$OUT/hoist.yml" --chromium "$CHROMIUM" --out "$OUT/hoist-report" --quiet --renderer-per-tab > "$OUT/hoist.log"
}
run_playwright() {
  BASE_URL="$BASE_URL" PAGES="$paths" PW_CHROMIUM="$CHROMIUM" node_modules/.bin/playwright test > "$OUT/playwright.log" 2>&1
}

measure() { # tool round
  echo "0 0" > "$OUT/rss.peak"
  local t0 t1 status=ok tool
  t0=$(now_ms)
  "run_$1" & tool=$!
  sample_rss "$OUT/rss.peak" "$tool" 2>>"$OUT/sampler.log" &
  SAMPLER=$!
  if ! wait "$tool"; then status=FAILED; fi
  t1=$(now_ms)
  kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=""
  local ms=$((t1 - t0)) rss ticks
  read -r rss ticks < "$OUT/rss.peak"
  rss=$((rss / 1024))
  printf "%-13s %5s %9s %10s %13d %12s  %s\n" "$1" "$2" "$(div "$ms" 1000)" "$(div $((PAGES * 1000)) "$ms")" "$rss" "$(div "$ticks" 100)" "$status"
  echo "$1 $ms $rss $ticks" >> "$OUT/results.txt"
}

echo "warm-up (not counted)" >&2
run_hoist || true
run_playwright || true

: > "$OUT/results.txt"
echo "site: $PAGES pages at $BASE_URL, 1 viewport 1280x800, $(nproc) cores, $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
printf "%-13s %5s %9s %10s %13s %12s\n" tool round seconds pages/s "peak RSS MB" "browser CPU s"
for r in $(seq "$ROUNDS"); do
  measure hoist "$r"
  measure hoist_pertab "$r"
  measure playwright "$r"
done

median() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
col() { awk -v t="$1" -v c="$2" '$1==t{print $c}' "$OUT/results.txt" | median; }
echo "medians:"
for t in hoist hoist_pertab playwright; do
  printf "  %-13s %6s s  %4s MB  browser CPU %5s s  (playwright/%s %sx)\n" "$t" "$(div "$(col "$t" 2)" 1000)" "$(col "$t" 3)" "$(div "$(col "$t" 4)" 100)" "$t" "$(div "$(col playwright 2)" "$(col "$t" 2)")"
done
