#!/usr/bin/env bash
# Separate network hosts for the workers of a distributed run, on one Linux machine (root):
# one network namespace per worker and a hub namespace, each worker joined to the hub by a
# veth pair, and the hub to the local Kafka cluster on the loopback by a relay. Every address
# is assigned inside the namespaces this script makes (10.231.I.1 on the hub's end of worker
# I's link, 10.231.I.2 on the worker's), and `down` removes them all.
#
# A worker's clients reach the brokers at the addresses the brokers advertise (127.0.0.1:9092
# to 9094): a relay in the worker's namespace takes them there and over its link, delaying
# each chunk by DELAY_MS +- JITTER_MS (default 2 +- 1). The delay is added by the relay
# (scripts/delay_relay.py), not `tc netem`: kernels without the netem qdisc (as on this
# project's test host) cannot add it.
#
#   scripts/netns-workers.sh up NAME COUNT     make NAME's namespaces, links and relays
#   scripts/netns-workers.sh exec NAME I CMD.. run CMD in worker I's namespace
#   scripts/netns-workers.sh down NAME         stop the relays, remove the namespaces
#
# NAME: 1 to 6 letters or digits, unique among the runs on the machine (interfaces are named
# after it). PORTS (default "9092 9093 9094") are the brokers' plaintext ports.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ports="${PORTS:-9092 9093 9094}"
delay="${DELAY_MS:-2}"
jitter="${JITTER_MS:-1}"

die() { echo "netns-workers: $*" >&2; exit 2; }

check_name() {
  [[ "${1:-}" =~ ^[a-z0-9]{1,6}$ ]] || die "NAME must be 1 to 6 lowercase letters or digits, got '${1:-}'"
}

# Root's own directory: another user cannot plant the files `down` acts on.
state_dir() { echo "/run/surge-netns-$1"; }

up() {
  local name="$1" count="$2" state hub i pairs
  check_name "$name"
  [[ "$count" =~ ^[1-9][0-9]?$ && "$count" -le 50 ]] || die "COUNT must be 1 to 50, got '$count'"
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
  command -v ip >/dev/null || die "needs iproute2's ip"
  command -v python3 >/dev/null || die "needs python3 (the relays)"
  state="$(state_dir "$name")"
  umask 077
  mkdir "$state" 2>/dev/null || die "$name is up already ($state): run down first"
  # Whatever fails from here on, what was made is removed.
  trap 'down "$name"' ERR
  hub="sg${name}hub"
  ip netns add "$hub"
  echo "$hub" >>"$state/namespaces"
  ip -n "$hub" link set lo up
  pairs=()
  for ((i = 0; i < count; i++)); do
    local ns="sg${name}w$i" hub_end="sg${name}h$i" worker_end="sg${name}v$i"
    ip netns add "$ns"
    echo "$ns" >>"$state/namespaces"
    ip link add "$hub_end" netns "$hub" type veth peer name "$worker_end" netns "$ns"
    ip -n "$hub" addr add "10.231.$i.1/24" dev "$hub_end"
    ip -n "$ns" addr add "10.231.$i.2/24" dev "$worker_end"
    ip -n "$hub" link set "$hub_end" up
    ip -n "$ns" link set "$worker_end" up
    ip -n "$ns" link set lo up
    local worker_pairs=()
    for port in $ports; do
      pairs+=(--pair "10.231.$i.1:$port=127.0.0.1:$port")
      worker_pairs+=(--pair "127.0.0.1:$port=10.231.$i.1:$port")
    done
    # The worker's side: the brokers' advertised addresses, over the link, delayed.
    ip netns exec "$ns" python3 "$here/delay_relay.py" "${worker_pairs[@]}" \
      --delay-ms "$delay" --jitter-ms "$jitter" >"$state/relay-w$i.log" 2>&1 &
    echo $! >>"$state/pids"
  done
  # The hub's side: its ends of the links, to the brokers on the machine's loopback.
  python3 "$here/delay_relay.py" "${pairs[@]}" --listen-netns "$hub" >"$state/relay-hub.log" 2>&1 &
  echo $! >>"$state/pids"
  local waited=0
  while [ "$(grep -l '^ready' "$state"/relay-*.log 2>/dev/null | wc -l)" -lt $((count + 1)) ]; do
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -gt 100 ] || grep -qE "delay_relay|error:" "$state"/relay-*.log; then
      cat "$state"/relay-*.log >&2
      down "$name"
      die "the relays did not start"
    fi
  done
  trap - ERR
  echo "netns-workers: $name up: $count workers (sg${name}w0..), ${delay}ms +- ${jitter}ms to the brokers"
}

down() {
  local name="$1" state
  check_name "$name"
  state="$(state_dir "$name")"
  if [ -f "$state/pids" ]; then
    # Only the relays this script started: a PID taken since by another process is left be.
    while read -r pid; do
      if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "delay_relay.py"; then
        kill "$pid" 2>/dev/null || true
      fi
    done <"$state/pids"
  fi
  if [ -f "$state/namespaces" ]; then
    # Deleting a namespace deletes its ends of the veth pairs, and so the pairs. Only names
    # this script gives (sgNAME...).
    while read -r ns; do
      [[ "$ns" == sg"$name"* ]] && ip netns del "$ns" 2>/dev/null || true
    done <"$state/namespaces"
  fi
  rm -rf "$state"
}

case "${1:-}" in
  up) up "${2:-}" "${3:-}" ;;
  down) down "${2:-}" ;;
  exec)
    check_name "${2:-}"
    [[ "${3:-}" =~ ^[0-9]+$ ]] || die "exec NAME I CMD...: I is a worker index"
    ns="sg${2}w$3"
    shift 3
    exec ip netns exec "$ns" "$@"
    ;;
  *) die "usage: $0 up NAME COUNT | exec NAME I CMD... | down NAME" ;;
esac
