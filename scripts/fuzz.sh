#!/usr/bin/env bash
# surge's fuzzers at length: a million cases across the scenario loader, the hlog reader,
# client properties, summary.json (read and rendered) and worker sets (merged). The test suite
# runs the same fuzzers for a few thousand cases; docs/contributing.md has the last result.
#
#   scripts/fuzz.sh            the million (about half an hour on two cores)
#   SURGE_FUZZ_SEED=7 scripts/fuzz.sh     other cases
#   SURGE_FUZZ_HLOG=1000 ...   any target's count (SCENARIO, HLOG, PROPERTIES, SUMMARY, MERGE)
set -euo pipefail
cd "$(dirname "$0")/.."
export SURGE_FUZZ_SCENARIO="${SURGE_FUZZ_SCENARIO:-600000}"
export SURGE_FUZZ_HLOG="${SURGE_FUZZ_HLOG:-250000}"
export SURGE_FUZZ_PROPERTIES="${SURGE_FUZZ_PROPERTIES:-120000}"
export SURGE_FUZZ_SUMMARY="${SURGE_FUZZ_SUMMARY:-20000}"
export SURGE_FUZZ_MERGE="${SURGE_FUZZ_MERGE:-10000}"
total=$((SURGE_FUZZ_SCENARIO + SURGE_FUZZ_HLOG + SURGE_FUZZ_PROPERTIES + SURGE_FUZZ_SUMMARY + SURGE_FUZZ_MERGE))
echo "fuzz: $total cases (seed ${SURGE_FUZZ_SEED:-default})" >&2
started=$(date +%s)
timeout 3h cargo test --locked --test scenario_fuzz --test reader_fuzz -- --test-threads 1
echo "fuzz: $total cases, 0 panics, 0 aborts, 0 timeouts in $(( $(date +%s) - started ))s" >&2
