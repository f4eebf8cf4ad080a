#!/usr/bin/env bash
# Screenshots of a run's report.html (at 1400 and 800 px wide, and printed to PDF) and of each
# of its charts, in headless Chromium (Debian's chromium package), for looking at what a
# reviewer sees. Usage: scripts/screenshot-reports.sh RUN_DIR [OUT_DIR]
set -euo pipefail
run_dir=$(cd "$1" && pwd)
out=${2:-$run_dir/screenshots}
mkdir -p "$out"
out=$(cd "$out" && pwd)
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
shoot() { # URL PNG WIDTH HEIGHT
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size="$3,$4" \
    --screenshot="$2" "$1" >/dev/null 2>&1
}
for width in 1400 800; do
  shoot "file://$run_dir/report.html" "$out/report-$width.png" "$width" 7000
done
timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --no-pdf-header-footer --print-to-pdf="$out/report.pdf" \
  "file://$run_dir/report.html" >/dev/null 2>&1
for svg in "$run_dir"/*.svg; do
  shoot "file://$svg" "$out/$(basename "$svg" .svg).png" 980 600
done
ls "$out"
