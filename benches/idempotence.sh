#!/bin/bash
# Paced produce CPU and max throughput, idempotence on (default) vs off, against the
# separate-process mock cluster (benches/README.md section 12). Needs `cargo build --release`
# first (it links the C mock against the librdkafka.a that build leaves behind).
set -u
mkdir -p /tmp/surge-idem
cd "$(dirname "$0")/.."
SRC=$(ls -d ~/.cargo/registry/src/*/rdkafka-sys-*/librdkafka | head -1)
OUT=$(dirname $(find target/release/build -name librdkafka.a | head -1))
ZSTD=$(find target/release/build -name libzstd.a | head -1)
LIBS="$OUT/librdkafka.a $ZSTD -lpthread -lz -lssl -lcrypto -lm -ldl"
[ -x /tmp/mock_cluster ] || gcc -O2 -o /tmp/mock_cluster benches/mock_cluster.c -I$SRC/src $LIBS
/tmp/mock_cluster throughput:12 > /tmp/boot.txt 2>/dev/null &
MOCK=$!
sleep 2
B=$(head -1 /tmp/boot.txt)
echo "bootstrap $B"
for round in 1 2 3; do
  for mode in true false; do
    t=$( { /usr/bin/time -f "%U %S" ./target/release/surge run benches/paced-10k.toml --bootstrap $B -q -X producer.enable.idempotence=$mode --out /tmp/surge-idem/pace-$mode-$round > /dev/null; } 2>&1 | tail -1)
    python3 - "$mode" "$round" "$t" <<'PY'
import json,sys
mode,rnd,t=sys.argv[1],sys.argv[2],sys.argv[3].split()
s=json.load(open(f'/tmp/surge-idem/pace-{mode}-{rnd}/summary.json'))
cpu=float(t[0])+float(t[1]); ev=s['produced']['acked']
print(f"paced idempotence={mode} round {rnd}: {cpu:.2f} CPU-s, {cpu/ev*1e5:.2f} CPU-s per 100k, publish p50 {s['latency']['publish_us']['p50']/1000:.1f} ms p99 {s['latency']['publish_us']['p99']/1000:.1f} ms, failed {s['produced']['failed']}")
PY
  done
done
for round in 1 2; do
  for mode in true false; do
    ./target/release/surge run scenarios/max-throughput.toml --bootstrap $B -X linger.ms=10 -X producer.enable.idempotence=$mode --duration-scale 0.6 -q --out /tmp/surge-idem/max-$mode-$round > /dev/null 2>&1
    python3 -c "
import json;s=json.load(open('/tmp/surge-idem/max-$mode-$round/summary.json'))
print('max-throughput idempotence=$mode round $round:', round(s['produced']['achieved_rate']), 'events/s acked', s['produced']['acked'], 'failed', s['produced']['failed'])"
  done
done
kill $MOCK
