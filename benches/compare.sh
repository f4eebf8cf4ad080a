#!/usr/bin/env bash
# surge against librdkafka's own C tools, on the same separate-process mock cluster with the same
# client settings, C tool and surge interleaved, ROUNDS times (3 by default); prints one Markdown
# table of medians and ratios (benches/README.md section 8 keeps the last one).
#
#   benches/compare.sh [ROUNDS [ROW ...]]
#   rows: paced10k paced50k pair10k pair50k produce produce_keyed produce_typeid
#         produce_keyed_typeid produce_none
#   (default: all)
#
# It builds surge (cargo build --release) and, against the librdkafka.a that build leaves behind,
# the C programs: benches/mock_cluster.c (the broker, 3 brokers in one process),
# benches/paced_producer.c (a minimal paced producer: the floor for paced produce) and
# librdkafka's examples/rdkafka_performance.c. Every run gets a fresh mock cluster with one
# topic of 12 partitions, so no run pays for what an earlier one left in the broker's memory.
# CPU is user + system time of the client processes (/usr/bin/time), start-up included.
set -euo pipefail

rounds=${1:-3}
shift || true
rows=("$@")
all_rows="paced10k paced50k pair10k pair50k produce produce_keyed produce_typeid produce_keyed_typeid produce_none"
# shellcheck disable=SC2206
[ ${#rows[@]} -gt 0 ] || rows=($all_rows)
case $rounds in '' | *[!0-9]* | 0)
  echo "compare.sh: ROUNDS must be a positive whole number, not '$rounds'" >&2
  exit 2
  ;;
esac
for row in "${rows[@]}"; do
  case " $all_rows " in *" $row "*) ;; *)
    echo "compare.sh: unknown row '$row'; rows: $all_rows" >&2
    exit 2
    ;;
  esac
done

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
command -v gcc >/dev/null || { echo "compare.sh: needs gcc (apt-get install gcc)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "compare.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

cargo build --release --locked -q
surge=$here/target/release/surge
bin=$here/target/bench-c
mkdir -p "$bin"
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/rdkafka-sys-*/librdkafka | head -1)
out=$(dirname "$(find target/release/build -name librdkafka.a | head -1)")
zstd=$(find target/release/build -name libzstd.a | head -1)
libs="$out/librdkafka.a $zstd -lpthread -lz -lssl -lcrypto -lm -ldl"
# shellcheck disable=SC2086
{
  gcc -O2 -o "$bin/mock_cluster" benches/mock_cluster.c -I"$src/src" $libs
  gcc -O2 -o "$bin/paced_producer" benches/paced_producer.c -I"$src/src" -I"$out" $libs
  gcc -O2 -w -o "$bin/rdkafka_performance" "$src/examples/rdkafka_performance.c" -I"$src/src" -I"$out" $libs
}

work=$(mktemp -d)
mock=
stop_mock() {
  if [ -n "$mock" ]; then kill "$mock" 2>/dev/null || true; wait "$mock" 2>/dev/null || true; fi
  mock=
}
trap 'stop_mock; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# A fresh mock cluster; sets B to its bootstrap servers.
fresh_mock() {
  stop_mock
  "$bin/mock_cluster" throughput:12 >"$work/boot" 2>/dev/null &
  mock=$!
  for _ in $(seq 50); do [ -s "$work/boot" ] && break; sleep 0.1; done
  B=$(head -1 "$work/boot")
  [ -n "$B" ] || { echo "compare.sh: the mock cluster did not start" >&2; exit 1; }
}

# CPU seconds (user + system) recorded by /usr/bin/time -o FILE.
cpu() { awk '{ s += $1 + $2 } END { printf "%.3f", s }' "$@"; }
timed() { local file=$1; shift; /usr/bin/time -f "%U %S" -o "$file" "$@"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# sticky.partitioning.linger.ms=0: each keyless message to its own partition, as surge's keys
# spread events over all partitions (the sticky default fills one partition per batch instead).
# surge's own producer defaults that librdkafka's differ from: the C side gets them too, so both
# run the same client (same_settings checks every surge run against this list). surge's
# message.timeout.ms comes from the scenario's send deadline (20-30 s here): it only bounds how
# long a message may wait.
SURGE_DEFAULTS="enable.idempotence=true socket.nagle.disable=true"
export PACED_PRODUCER_CONFIG=$SURGE_DEFAULTS
C_PRODUCE="-X compression.type=snappy -X batch.size=16384 -X linger.ms=10 -X retries=3 -X sticky.partitioning.linger.ms=0"
for setting in $SURGE_DEFAULTS; do C_PRODUCE="$C_PRODUCE -X $setting"; done
CONSUMER="-X fetch.min.bytes=1024 -X enable.auto.commit=false -X fetch.wait.max.ms=10"
# The mock answers a fetch only when fetch.wait.max.ms runs out: both sides use 10 ms.
SURGE_X="-X consumer.fetch.wait.max.ms=10"
sed 's/^type_headers = false/type_headers = true/' scenarios/max-throughput.toml >"$work/typeid.toml"
grep -q '^type_headers = true' "$work/typeid.toml"

# Fails the comparison when surge's last run used a producer setting the C side does not: the C
# side's are C_PRODUCE's (paced_producer.c sets the same, plus PACED_PRODUCER_CONFIG), acks=all
# (rdkafka_performance -a -1), and any given as arguments, which override them.
same_settings() {
  python3 - "$work/s/summary.json" "acks=all ${C_PRODUCE//-X /} $*" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
config = summary["cluster"]["producer_config"]
c_side = dict(item.split("=", 1) for item in sys.argv[2].split())
ignored = ("security.protocol", "message.timeout.ms")
differ = [f"{k}={v}" for k, v in config if k not in ignored and c_side.get(k) != v]
if differ:
    sys.exit(f"compare.sh: surge ran with {' '.join(differ)}, which the C side does not set: add it to SURGE_DEFAULTS")
PY
}

# Each function runs one round of one row and appends "c surge" figures to $work/ROW.
paced() { # RATE
  local rate=$1 events=$(($1 * 10))
  fresh_mock
  timed "$work/t" "$bin/paced_producer" "$B" throughput "$rate" 10 >/dev/null
  local c; c=$(cpu "$work/t")
  fresh_mock
  # shellcheck disable=SC2086
  timed "$work/t" "$surge" run benches/paced-10k.toml --bootstrap "$B" -q --out "$work/s" \
    --rate-scale "$(python3 -c "print($rate / 10000)")" >/dev/null
  same_settings
  local s; s=$(cpu "$work/t")
  echo "$(python3 -c "print($c * 1e6 / $events, $s * 1e6 / $events)")"
}

pair() { # RATE
  local rate=$1 events=$(($1 * 10))
  fresh_mock
  # shellcheck disable=SC2086
  timed "$work/tc" "$bin/rdkafka_performance" -C -G "pair-$RANDOM" -t throughput -b "$B" -l \
    -A "$work/c.lat" -c "$events" -X auto.offset.reset=latest $CONSUMER -q >/dev/null 2>&1 &
  local consumer=$!
  sleep 6 # the group join
  timed "$work/tp" "$bin/paced_producer" "$B" throughput "$rate" 10 >/dev/null
  timeout 60 tail --pid=$consumer -f /dev/null
  wait $consumer
  local c c_mean
  c=$(cpu "$work/tc" "$work/tp")
  c_mean=$(python3 -c "import sys; v=[int(l) for l in open(sys.argv[1])]; print(sum(v)/len(v)/1000)" "$work/c.lat")
  fresh_mock
  # shellcheck disable=SC2086
  timed "$work/t" "$surge" run benches/pair-10k.toml --bootstrap "$B" $SURGE_X -q --out "$work/s" \
    --rate-scale "$(python3 -c "print($rate / 10000)")" >/dev/null
  same_settings
  local s s_mean s_lag
  s=$(cpu "$work/t")
  s_mean=$(json "$work/s/summary.json" "d['groups'][0]['e2e_latency_us']['mean'] / 1000")
  s_lag=$(json "$work/s/summary.json" "d['latency']['schedule_lag_us']['mean'] / 1000")
  echo "$(python3 -c "print($c * 1e6 / $events, $s * 1e6 / $events)") $c_mean $s_mean $s_lag"
}

# surge flat out on a fresh mock: SCENARIO "SURGE-ARGS" [C-SIDE SETTINGS]; sets s to produced.achieved_rate. Not
# called in a $(...) subshell, which would keep the mock it starts out of stop_mock's reach.
surge_produce() {
  fresh_mock
  # shellcheck disable=SC2086
  "$surge" run "$1" --bootstrap "$B" --duration-scale 0.3 -q --out "$work/s" $2 >/dev/null || true
  same_settings "${3:-}"
  s=$(json "$work/s/summary.json" "d['produced']['achieved_rate']")
}

produce() { # SCENARIO "C-ARGS" "SURGE-ARGS"
  local scenario=$1 c_args=$2 surge_args=$3
  fresh_mock
  # shellcheck disable=SC2086
  "$bin/rdkafka_performance" -P -t throughput -s 512 -c 2000000 -S 0 -a -1 -b "$B" $C_PRODUCE $c_args \
    >"$work/c.out" 2>&1
  local c
  c=$(grep -o '[0-9]* msgs/s' "$work/c.out" | tail -1 | cut -d' ' -f1)
  local s
  surge_produce "$scenario" "$surge_args" "${4:-}"
  echo "$c $s"
}

# The C side sends what surge sends: benches/paced_producer.c offered 2M/s for 3 s (flat out),
# keyed over 100,000 keys, 512-byte payloads of a short varying prefix and 'x' padding, as
# surge's JSON envelope and padding are; its rate is acked / (first send to last ack).
produce_keyed() { # [TYPE-NAME]: with a __TypeId__ header of that name on both sides
  fresh_mock
  local header=${1:-}
  # shellcheck disable=SC2086
  "$bin/paced_producer" "$B" throughput 2000000 3 100000 512 $header >"$work/c.out"
  local c
  c=$(awk '/^sent/ { printf "%.0f", $4 / $8 }' "$work/c.out")
  local s scenario=scenarios/max-throughput.toml
  [ -z "$header" ] || scenario=$work/typeid.toml
  surge_produce "$scenario" ""
  echo "$c $s"
}

for round in $(seq "$rounds"); do
  for row in "${rows[@]}"; do
    echo "round $round: $row" >&2
    case $row in
      paced10k) paced 10000 >>"$work/$row" ;;
      paced50k) paced 50000 >>"$work/$row" ;;
      pair10k) pair 10000 >>"$work/$row" ;;
      pair50k) pair 50000 >>"$work/$row" ;;
      produce) produce scenarios/max-throughput.toml "" "" >>"$work/$row" ;;
      produce_keyed) produce_keyed >>"$work/$row" ;;
      produce_typeid) produce "$work/typeid.toml" "-H __TypeId__=OrderCreated" "" >>"$work/$row" ;;
      produce_keyed_typeid) produce_keyed OrderCreated >>"$work/$row" ;;
      produce_none)
        produce scenarios/max-throughput.toml "-X compression.type=none" \
          "-X producer.compression.type=none" compression.type=none >>"$work/$row"
        ;;
    esac
  done
done
stop_mock

python3 - "$work" "$rounds" "${rows[@]}" <<'EOF'
import statistics, sys
work, rounds, rows = sys.argv[1], sys.argv[2], sys.argv[3:]
def cols(row):
    runs = [list(map(float, line.split())) for line in open(f"{work}/{row}")]
    return [statistics.median(c) for c in zip(*runs)], runs
# Each row's budget for surge / C (issue 28's, and issue 11's for the pairs).
budgets = {"paced10k": ("<=", 1.15), "paced50k": ("<=", 1.15), "pair10k": ("<=", 1.5),
           "pair50k": ("<=", 1.5), "produce": (">=", 0.92), "produce_keyed": (">=", 0.95),
           "produce_typeid": (">=", 0.92), "produce_keyed_typeid": (">=", 0.95),
           "produce_none": (">=", 0.92)}
def target(row):
    op, budget = budgets[row]
    return f"{op} {budget}"
print(f"| comparison ({rounds} rounds, medians) | C tool | surge | surge / C | target |")
print("| --- | ---: | ---: | ---: | --- |")
for row in rows:
    m, runs = cols(row)
    if row.startswith("paced"):
        rate = "10k/s" if row == "paced10k" else "50k/s"
        print(f"| paced produce at {rate}, CPU per event (C: benches/paced_producer.c) | {m[0]:.1f} us | {m[1]:.1f} us | {m[1]/m[0]:.2f} | {target(row)} |")
    elif row.startswith("pair"):
        rate = "10k/s" if row == "pair10k" else "50k/s"
        print(f"| producer + one group at {rate}, CPU per event (C: paced_producer + rdkafka_performance -C) | {m[0]:.1f} us | {m[1]:.1f} us | {m[1]/m[0]:.2f} | {target(row)} |")
        print(f"| the same pair, e2e latency mean (surge's from the intended send time, of which schedule lag {m[4]:.2f} ms) | {m[2]:.1f} ms | {m[3]:.1f} ms | {m[3]/m[2]:.2f} | <= 1.2 |")
    elif row == "produce":
        print(f"| produce-only, 512 B, msgs/s (C: rdkafka_performance -P -S 0) | {m[0]:,.0f} | {m[1]:,.0f} | {m[1]/m[0]:.2f} | {target(row)} |")
    elif row == "produce_keyed":
        print(f"| the same, the C side keyed like surge (C: benches/paced_producer.c flat out, 100k keys) | {m[0]:,.0f} | {m[1]:,.0f} | {m[1]/m[0]:.2f} | {target(row)} |")
    elif row == "produce_keyed_typeid":
        print(f"| the keyed C side and surge, both with the `__TypeId__` header | {m[0]:,.0f} | {m[1]:,.0f} | {m[1]/m[0]:.2f} | {target(row)} |")
    elif row == "produce_typeid":
        print(f"| the same with the `__TypeId__` header (C: -H __TypeId__=...) | {m[0]:,.0f} | {m[1]:,.0f} | {m[1]/m[0]:.2f} | {target(row)} |")
    else:
        print(f"| the same without compression (payload content no longer matters) | {m[0]:,.0f} | {m[1]:,.0f} | {m[1]/m[0]:.2f} | {target(row)} |")
print()
for row in rows:
    _, runs = cols(row)
    print(f"{row}: " + "; ".join(" ".join(f"{v:g}" for v in run) for run in runs))
# One line per ratio and its budget, so that a regression shows at a glance.
print()
for row in rows:
    m, _ = cols(row)
    ratio = m[1] / m[0]
    op, budget = budgets[row]
    met = ratio <= budget if op == "<=" else ratio >= budget
    print(f"ratio {row} {ratio:.2f} (budget {op} {budget}): {'met' if met else 'NOT MET'}")
EOF
