#!/usr/bin/env bash
# End-to-end latency of librdkafka's own C pair (rdkafka_performance -P -l and -C -l) against the
# local Kafka cluster, with the settings surge uses there, for benches/README.md section 5.
#
#   benches/e2e-c-pair.sh RATE [SECONDS]      e.g. benches/e2e-c-pair.sh 3000 25
#
# Needs scripts/local-kafka.sh ready, and rdkafka_performance built as in benches/README.md
# section 2 (RDKAFKA_PERFORMANCE names the binary, /tmp/rdkafka_performance by default).
# Prints the consumer's per-message latency percentiles, the first 5 s (the warm-up surge's
# e2e-local.toml also leaves out) excluded. The C tool stamps each message when it is handed to
# librdkafka, surge when it was due: on a producer that keeps up the two are the same.
set -euo pipefail

rate=${1:?usage: benches/e2e-c-pair.sh RATE [SECONDS]}
seconds=${2:-25}
perf=${RDKAFKA_PERFORMANCE:-/tmp/rdkafka_performance}
here=$(cd "$(dirname "$0")/.." && pwd)
kafka="$here/scripts/local-kafka.sh"
bootstrap=127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
topic=e2e-c-pair
count=$((rate * seconds))
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

[ -x "$perf" ] || { echo "e2e-c-pair: $perf not found; build it as in benches/README.md section 2" >&2; exit 2; }

cp=$("$kafka" classpath)
topics() { java -cp "$cp" org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" "$@"; }
topics --delete --topic "$topic" --if-exists >/dev/null 2>&1 || true
sleep 2
topics --create --topic "$topic" --partitions 6 --replication-factor 3 \
  --config min.insync.replicas=2 >/dev/null
"$kafka" balance >/dev/null

both="-X socket.nagle.disable=true"
"$perf" -C -G "e2e-c-pair-$$" -t "$topic" -b "$bootstrap" -l -A "$work/consumer.lat" -c "$count" \
  -X auto.offset.reset=earliest -X enable.auto.commit=false -X fetch.min.bytes=1024 $both -q \
  >"$work/consumer.out" 2>&1 &
consumer=$!
sleep 10 # the group join
timeout $((seconds + 60)) "$perf" -P -t "$topic" -b "$bootstrap" -s 512 -r "$rate" -c "$count" -l \
  -a -1 -z snappy -X linger.ms=10 -X batch.size=16384 -X retries=3 $both ${C_PAIR_EXTRA:-} -q \
  >"$work/producer.out" 2>&1
timeout 60 tail --pid=$consumer -f /dev/null || { echo "e2e-c-pair: consumer did not finish" >&2; exit 1; }

python3 - "$work/consumer.lat" $((rate * 5)) "$rate" <<'EOF'
import sys
path, skip, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
values = sorted(int(line) for i, line in enumerate(open(path)) if i >= skip)
def at(q):
    return values[min(len(values) - 1, int(q * len(values)))] / 1000
print(f"rdkafka_performance pair, {rate}/s, {len(values)} messages after the warm-up: "
      f"e2e p50 {at(0.50):.1f} ms  p95 {at(0.95):.1f} ms  p99 {at(0.99):.1f} ms  max {values[-1] / 1000:.1f} ms")
EOF
