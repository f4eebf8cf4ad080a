#!/usr/bin/env bash
# Regenerates reports/example/ from a run of scenarios/smoke.toml on the embedded broker with
# this checkout's release build (or SURGE_BIN), and writes the run's console output to
# reports/example/console.txt, which the README quotes. The run's directory name is replaced by
# the example's in what it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${SURGE_BIN:-}" ]]; then
  cargo build --release --locked
  SURGE_BIN=target/release/surge
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0
"$SURGE_BIN" run scenarios/smoke.toml --out "$work/example" --quiet >"$work/console.txt" 2>&1 || status=$?
sed "s|$work/example|reports/example|g" "$work/console.txt" >"$work/example/console.txt"
rm -rf reports/example
mv "$work/example" reports/example
cat reports/example/console.txt
exit "$status"
