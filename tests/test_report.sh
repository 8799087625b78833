#!/usr/bin/env bash
# The demo's report, opened in a real browser: headless Chromium loads index.html and the page's
# own script counts images that failed to load; console errors fail the test too.
# Prints 'N passed, N failed'; skips (77) only where Chromium is not installed.
set -u
svdd=${SVDD_BIN:?SVDD_BIN must point at the svdd binary}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "SKIP: no chromium on this machine"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

if "$svdd" demo --epochs 2 --threads 1 --out "$tmp/report" >"$tmp/demo.log" 2>&1; then ok; else bad "demo: $(tail -3 "$tmp/demo.log")"; fi
for f in index.html roc.png roc.svg histogram.png tsne.png top_00.png model.safetensors; do
    if [ -s "$tmp/report/$f" ]; then ok; else bad "missing $f"; fi
done

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync --user-data-dir="$tmp/profile" --allow-file-access-from-files
       --virtual-time-budget=5000)
"$browser" "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "file://$tmp/report/index.html" \
    >"$tmp/dom.html" 2>"$tmp/console.log"
images=$(grep -o 'data-images="[0-9]*"' "$tmp/dom.html" | grep -o '[0-9]*')
broken=$(grep -o 'data-broken-images="[0-9]*"' "$tmp/dom.html" | grep -o '[0-9]*')
if [ -n "$images" ] && [ "$images" -ge 8 ]; then ok; else bad "the page's check did not run or found few images ('$images')"; fi
if [ "$broken" = "0" ]; then ok; else bad "broken images: '$broken'"; fi
if grep -qiE 'CONSOLE.*(error|Uncaught)|Uncaught' "$tmp/console.log"; then bad "console errors: $(grep -iE 'CONSOLE|Uncaught' "$tmp/console.log" | head -3)"; else ok; fi
for text in "Metrics" "F1 of flagging every image" "oracle" "Most anomalous" "False positives" "False negatives" "Latent space"; do
    if grep -q "$text" "$tmp/dom.html"; then ok; else bad "page lacks '$text'"; fi
done
"$browser" "${flags[@]}" --window-size=1200,2400 --screenshot="$tmp/shot.png" "file://$tmp/report/index.html" >/dev/null 2>&1
if [ -s "$tmp/shot.png" ]; then ok; else bad "no screenshot"; fi
[ -n "${SVDD_KEEP_SCREENSHOT:-}" ] && cp "$tmp/shot.png" "$SVDD_KEEP_SCREENSHOT"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
