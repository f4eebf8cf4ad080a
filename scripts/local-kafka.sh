#!/usr/bin/env bash
# A real Apache Kafka cluster on loopback for surge's tests and for trying surge: one KRaft
# controller and three brokers, each its own JVM with its own data directory, so that a test can
# kill, pause and restart one broker for real.
#
#   scripts/local-kafka.sh install     fetch the pinned jars (Maven) and make the TLS material
#   scripts/local-kafka.sh start       install if needed, format empty storage, start every node,
#                                      wait until every broker answers metadata
#   scripts/local-kafka.sh ready       start what is down, then wait until every replica is in
#                                      sync, balance leaders and warm every broker up until its
#                                      JIT settles (tests call this before each measurement);
#                                      at once when no node changed, paused or moved a leader
#                                      since the last ready
#   scripts/local-kafka.sh stop        stop every node; no process is left behind
#   scripts/local-kafka.sh status      each node's state (exit 0 only when all are up)
#   scripts/local-kafka.sh kill N      SIGKILL broker N (1-3)
#   scripts/local-kafka.sh pause N     SIGSTOP broker N, like a long GC pause
#   scripts/local-kafka.sh resume N    SIGCONT broker N
#   scripts/local-kafka.sh restart N   start broker N again (stopping it first if it runs) and wait
#   scripts/local-kafka.sh wait-replicated [SECONDS]
#                                      wait until no partition is under-replicated
#   scripts/local-kafka.sh balance     wait until replicated, then give every partition back to
#                                      its preferred leader (start does this too)
#   scripts/local-kafka.sh move-leader TOPIC PARTITION R1,R2,R3
#                                      reorder the partition's replicas and elect R1 its leader
#   scripts/local-kafka.sh limited-user make the SCRAM user 'surge-limited' (no ACLs: it may do
#                                      nothing until `acl` grants it something)
#   scripts/local-kafka.sh acl ARGS...  Kafka's AclCommand against the cluster, e.g. --add
#                                      --allow-principal User:surge-limited --operation Read --topic T
#   scripts/local-kafka.sh quota CLIENT_ID BYTES_PER_S
#                                      a produce quota (producer_byte_rate, per broker) on one
#                                      client id; 0 removes it
#   scripts/local-kafka.sh env         shell exports for the SASL_SSL and SSL listeners
#   scripts/local-kafka.sh classpath   the jars' classpath, for Kafka's own Java tools
#   scripts/local-kafka.sh reset       stop, then delete all data (the next start formats anew)
#
# Why a separate controller and not three combined nodes: a broker kill must measure what
# clients see when a data node dies (leader election, ISR shrink, NOT_ENOUGH_REPLICAS with two of
# three down), not the loss of the metadata quorum. With combined nodes, two brokers down also
# takes the Raft quorum down, so nothing can fence the dead brokers or shrink ISRs and clients see
# timeouts instead. MSK hides its controllers the same way.
#
# Ports (SURGE_KAFKA_PORT, default 9092, is the base B): broker N has PLAINTEXT on B+N-1
# (9092-9094), SSL on B+100+N-1 (9192-9194) and SASL_SSL with SCRAM-SHA-512 on B+200+N-1
# (9292-9294); the controller listens on B+300 (9392).
#
# Environment: SURGE_KAFKA_PORT, SURGE_KAFKA_DIR (data, logs, pids and TLS material; default
# .kafka/ in the checkout), SURGE_CACHE_DIR (jars; default ~/.cache/surge), SURGE_KAFKA_HEAP
# (per JVM, default 512m), SURGE_KAFKA_START_TIMEOUT (seconds, default 90), SURGE_KAFKA_WARM_UP
# (seconds of warm-up at most, default 300; 0 skips it), SURGE_KAFKA_JVM_OPTS (more options for
# every node's JVM, read when the cluster starts and kept for its life: a broker restarted later
# gets them too; the tests pass -XX:TieredStopAtLevel=1), SURGE_KAFKA_OWNER (a process id: when
# this call starts the cluster, the cluster is stopped once that process ends, however it ends;
# the tests pass their own).
set -euo pipefail

KAFKA_VERSION="4.4.0"
BROKERS=3
CONTROLLER_ID=100
SCRAM_USER="surge"
# A second SCRAM user that is no super user: what a principal with narrow ACLs sees.
LIMITED_USER="surge-limited"

repo="$(cd "$(dirname "$0")/.." && pwd)"
base="${SURGE_KAFKA_PORT:-9092}"
state="${SURGE_KAFKA_DIR:-$repo/.kafka}"
# snappy-java unpacks its native library into a temporary directory and deletes it on a clean
# exit only: in /tmp, every broker the tests kill would leave a copy.
snappy_tmp="$state/snappy-tmp"
cache="${SURGE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/surge}"
libs="$cache/kafka-$KAFKA_VERSION/libs"
heap="${SURGE_KAFKA_HEAP:-512m}"
start_timeout="${SURGE_KAFKA_START_TIMEOUT:-90}"
tls="$state/tls"
logs="$state/logs"

say() { printf 'local-kafka: %s\n' "$*" >&2; }
die() { say "$*"; exit 2; }

plain_port() { echo $((base + $1 - 1)); }
ssl_port() { echo $((base + 100 + $1 - 1)); }
sasl_port() { echo $((base + 200 + $1 - 1)); }
controller_port() { echo $((base + 300)); }
list() { local f=$1 out="" n; for ((n = 1; n <= BROKERS; n++)); do out+="${out:+,}127.0.0.1:$("$f" "$n")"; done; echo "$out"; }

node_name() { if [[ $1 == controller ]]; then echo controller; else echo "broker-$1"; fi; }
pidfile() { echo "$state/$(node_name "$1").pid"; }

check_broker() {
  [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] && (($1 <= BROKERS)) || die "broker number must be 1 to $BROKERS, not '${1:-}'"
}

# --- install -------------------------------------------------------------------------------

install_jars() {
  if [[ -f "$libs/.complete" ]]; then return 0; fi
  command -v java >/dev/null || die "java (17 or later) is needed: apt-get install openjdk-17-jre-headless"
  command -v mvn >/dev/null || die "Maven is needed to fetch Kafka's jars: apt-get install maven"
  say "fetching Apache Kafka $KAFKA_VERSION and its dependencies (Maven Central) into $libs"
  rm -rf "$libs"
  mkdir -p "$libs"
  mvn -q -B -f "$repo/deploy/local-kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" ||
    die "Maven could not fetch the Kafka jars; see its output above"
  touch "$libs/.complete"
}

# A CA and a broker certificate for localhost and 127.0.0.1, PEM, as Kafka's PEM key store reads
# them (PKCS#8 key, then the chain). Made once per state directory.
install_tls() {
  if [[ -f "$tls/broker-keystore.pem" ]]; then return 0; fi
  command -v openssl >/dev/null || die "openssl is needed for the TLS listeners: apt-get install openssl"
  mkdir -p "$tls"
  local tmp
  tmp="$(mktemp -d)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=surge local Kafka CA" \
    -keyout "$tmp/ca.key" -out "$tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$tmp/broker.key" -out "$tmp/broker.csr" 2>/dev/null
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
    "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$tmp/ext"
  openssl x509 -req -days 3650 -in "$tmp/broker.csr" -CA "$tls/ca.pem" -CAkey "$tmp/ca.key" \
    -CAcreateserial -extfile "$tmp/ext" -out "$tmp/broker.crt" 2>/dev/null
  openssl pkcs8 -topk8 -nocrypt -in "$tmp/broker.key" -out "$tmp/broker.pk8"
  cat "$tmp/broker.pk8" "$tmp/broker.crt" "$tls/ca.pem" >"$tls/broker-keystore.pem.part"
  chmod 600 "$tls/broker-keystore.pem.part"
  mv "$tls/broker-keystore.pem.part" "$tls/broker-keystore.pem"
  rm -rf "$tmp"
}

# A SCRAM user's password: random per state directory (the main user's is created before the
# storage is formatted).
scram_password() {
  local file="$tls/${1:-scram}.password"
  if [[ ! -s "$file" ]]; then
    mkdir -p "$tls"
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$file")
  fi
  cat "$file"
}

install() {
  install_jars
  install_tls
}

# --- configuration and storage -------------------------------------------------------------

# ACLs are enforced, as on MSK with SASL: the nodes (PLAINTEXT and the controller listener are
# ANONYMOUS), TLS clients without certificates (ANONYMOUS too) and the SCRAM user are super
# users; the limited user may do only what `acl` grants it.
authorizer_config() {
  printf '%s\n' "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" \
    "super.users=User:ANONYMOUS;User:$SCRAM_USER"
}

write_configs() {
  mkdir -p "$state/config" "$logs"
  local voters="$CONTROLLER_ID@127.0.0.1:$(controller_port)"
  cat >"$state/config/controller.properties" <<EOF
process.roles=controller
node.id=$CONTROLLER_ID
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=CONTROLLER://127.0.0.1:$(controller_port)
listener.security.protocol.map=CONTROLLER:PLAINTEXT
log.dirs=$state/controller/data
# Topics are created by the controller: ADR-005's replication factor is its default here.
default.replication.factor=3
# A broker that comes back gets its preferred partitions back within half a minute (the
# default waits five), so that one broker does not lead everything after a restart.
leader.imbalance.check.interval.seconds=30
$(authorizer_config)
EOF
  local n
  for ((n = 1; n <= BROKERS; n++)); do
    cat >"$state/config/broker-$n.properties" <<EOF
process.roles=broker
node.id=$n
controller.quorum.voters=$voters
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$(plain_port "$n"),SSL://127.0.0.1:$(ssl_port "$n"),SASL_SSL://127.0.0.1:$(sasl_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(plain_port "$n"),SSL://127.0.0.1:$(ssl_port "$n"),SASL_SSL://127.0.0.1:$(sasl_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/broker-$n/data
# ADR-005's durability: writes need two replicas in sync (the controller sets RF 3).
min.insync.replicas=2
offsets.topic.replication.factor=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
unclean.leader.election.enable=false
group.initial.rebalance.delay.ms=0
# A test cluster: what the runs wrote is kept two hours, committed offsets of finished groups
# one hour, so data (and a restarted broker's recovery) stays bounded across many sessions.
log.retention.ms=7200000
log.retention.check.interval.ms=60000
offsets.retention.minutes=60
# Two cores for four JVMs: fewer threads than the defaults.
num.network.threads=2
num.io.threads=4
background.threads=2
# TLS with a PEM key store (key and chain in one file) for the SSL and SASL_SSL listeners.
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
$(authorizer_config)
EOF
  done
}

# The JVM command line of Kafka's tools, as an array: a tool started in the background with
# "${JAVA_TOOL[@]}" ... & is itself $!, so it can be stopped (a backgrounded shell function would
# be a subshell, and killing it would leave the JVM running).
JAVA_TOOL=()
java_tool_command() {
  mkdir -p "$snappy_tmp"
  JAVA_TOOL=(java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$repo/deploy/local-kafka/log4j2.properties"
    -Dkafka.logs.dir="$logs" -Dsurge.node=tools -Dsurge.kafka.dir="$state"
    -Dorg.xerial.snappy.tempdir="$snappy_tmp" -cp "$libs/*")
}
java_tool() {
  java_tool_command
  "${JAVA_TOOL[@]}" "$@"
}

# Stops a background helper (a tool JVM, a surge run) and waits for it, SIGKILL after 10 s.
end_helper() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

format_storage() {
  if [[ -f "$state/controller/data/meta.properties" ]]; then return 0; fi
  say "formatting empty storage (cluster id, SCRAM-SHA-512 user '$SCRAM_USER')"
  local cluster_id
  cluster_id="$(java_tool kafka.tools.StorageTool random-uuid)"
  local node config
  for node in controller $(seq 1 "$BROKERS"); do
    config="$state/config/$(node_name "$node").properties"
    java_tool kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" -c "$config" \
      --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$(scram_password)]" >/dev/null ||
      die "formatting $(node_name "$node") failed; see above"
  done
}

# --- processes -----------------------------------------------------------------------------

pid_of() { local f; f="$(pidfile "$1")"; [[ -f "$f" ]] && cat "$f"; }
# The node's process state letter (R, S, T stopped, Z exited but not reaped, ...).
state_of() { local pid; pid="$(pid_of "$1")" && awk '{print $3}' "/proc/$pid/stat" 2>/dev/null; }
# A process that has exited but not been reaped (a zombie) is not alive.
alive() {
  local pid
  pid="$(pid_of "$1")" && [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && [[ "$(state_of "$1")" != Z ]]
}
paused() { [[ "$(state_of "$1")" == T ]]; }
# The brokers' pids, as the warm-up records them.
broker_pids() { echo "$(pid_of 1) $(pid_of 2) $(pid_of 3)"; }
# In the command line of every JVM of this cluster (and of no other cluster's).
jvm_marker="-Dsurge.kafka.dir=$state "

launch() {
  local node=$1 name
  name="$(node_name "$node")"
  if alive "$node"; then return 0; fi
  mkdir -p "$logs"
  # setsid: a Ctrl-C in the shell that started the cluster does not reach the brokers.
  local options=()
  # Split on blanks, never globbed.
  [[ -f "$state/jvm-options" ]] && read -r -a options <"$state/jvm-options"
  # A fixed set of JIT compiler threads: the warm-up sums their CPU time, which a thread that
  # exits (the JVM's default, dynamic set) takes with it.
  mkdir -p "$snappy_tmp"
  setsid java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:-UseDynamicNumberOfCompilerThreads "${options[@]}" \
    -Dorg.xerial.snappy.tempdir="$snappy_tmp" \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$repo/deploy/local-kafka/log4j2.properties" \
    -Dkafka.logs.dir="$logs" -Dsurge.node="$name" -Dsurge.kafka.dir="$state" \
    -cp "$libs/*" kafka.Kafka "$state/config/$name.properties" \
    </dev/null >"$logs/$name.out" 2>&1 &
  echo $! >"$(pidfile "$node")"
}

# Every broker answers a metadata request: Kafka's own API-versions tool lists each live broker.
brokers_answering() {
  java_tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "$(list plain_port)" 2>/dev/null | grep -c '^127.0.0.1:[0-9]* (id: [0-9]* rack' || true
}

broker_answers() {
  java_tool org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server "127.0.0.1:$(plain_port "$1")" 2>/dev/null | grep -q "^127.0.0.1:$(plain_port "$1") (id: $1 rack"
}

wait_until() {
  local what=$1 deadline=$((SECONDS + start_timeout))
  shift
  until "$@"; do
    if ((SECONDS >= deadline)); then
      say "$what: not within ${start_timeout}s; logs in $logs"
      return 1
    fi
    sleep 1
  done
}

all_brokers_answer() { [[ "$(brokers_answering)" -ge $BROKERS ]]; }

any_alive() {
  local node
  for node in controller $(seq 1 "$BROKERS"); do alive "$node" && return 0; done
  return 1
}

# Starts whatever is not running; returns 1 when every node already ran.
launch_missing() {
  local node launched=1
  for node in controller $(seq 1 "$BROKERS"); do
    if paused "$node"; then kill -CONT "$(pid_of "$node")"; fi
    if ! alive "$node"; then
      launch "$node"
      launched=0
    fi
  done
  return $launched
}

# The ports a node listens on.
node_ports() {
  if [[ $1 == controller ]]; then controller_port; else echo "$(plain_port "$1") $(ssl_port "$1") $(sasl_port "$1")"; fi
}

# Who listens on a loopback TCP port: "pid N (command line)", "an unknown process", or nothing.
port_holder() {
  local port=$1 line pid
  if command -v ss >/dev/null; then
    line="$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)"
    [[ -n "$line" ]] || return 0
    pid="$(grep -o 'pid=[0-9]*' <<<"$line" | head -n 1 | cut -d= -f2)"
    if [[ -n "$pid" ]]; then
      echo "pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c 1-160))"
    else
      echo "an unknown process"
    fi
  elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "an unknown process"
  fi
}

# A node this state directory does not run must find its ports free: otherwise its JVM could not
# bind, and the brokers answering would be someone else's (another checkout's cluster, say).
check_ports_free() {
  local node port holder
  for node in controller $(seq 1 "$BROKERS"); do
    alive "$node" && continue
    for port in $(node_ports "$node"); do
      holder="$(port_holder "$port")"
      [[ -z "$holder" ]] ||
        die "port $port (for $(node_name "$node")) is held by $holder, not by this cluster ($state); stop that process, or choose other ports with SURGE_KAFKA_PORT=BASE"
    done
  done
}

# Stops the cluster once process $SURGE_KAFKA_OWNER ends, however it ends (a test binary that
# passed, failed or was interrupted): a detached watcher polls it once a second.
watch_owner() {
  local owner=${SURGE_KAFKA_OWNER:-}
  [[ -n "$owner" ]] || return 0
  [[ "$owner" =~ ^[0-9]+$ ]] && kill -0 "$owner" 2>/dev/null || die "SURGE_KAFKA_OWNER=$owner is not a running process id"
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop' \
    owner-watch "$owner" "$repo/scripts/local-kafka.sh" </dev/null >>"$logs/owner-watch.out" 2>&1 &
  echo $! >"$state/owner-watch.pid"
  say "the cluster stops when process $owner ends"
}

start() {
  install
  check_ports_free
  write_configs
  format_storage
  local began=$SECONDS was_down=0
  alive controller || was_down=1
  # A cluster keeps the JVM options it was started with: a broker restarted later gets them too.
  # They are read only when no node runs.
  any_alive || printf '%s\n' "${SURGE_KAFKA_JVM_OPTS:-}" >"$state/jvm-options"
  # What killed brokers left unpacked there is no one's any more.
  any_alive || rm -rf "$snappy_tmp"
  if launch_missing; then
    # Only a call that brought the cluster up hands it to an owner: a cluster someone started
    # by hand stays up when a test restarts one of its brokers.
    ((was_down)) && watch_owner
    wait_until "every broker answering metadata" all_brokers_answer || exit 1
    balance
    warm_up
  else
    wait_until "every broker answering metadata" all_brokers_answer || exit 1
  fi
  say "up in $((SECONDS - began))s: PLAINTEXT $(list plain_port), SSL $(list ssl_port), SASL_SSL $(list sasl_port)"
}

# Ready to measure: every node up, every replica in sync, every partition on its preferred
# leader, and the JIT warm on every broker (a broker restarted by a fault test is cold). When
# every node is the same process as at the last `ready` and nothing since paused one or moved a
# leader, the cluster is as that call left it: nothing is asked again.
ready() {
  if [[ -f "$state/settled" && ! -f "$state/disturbed" && "$(cat "$state/settled")" == "$(node_pids)" ]] && all_running; then
    say "unchanged since the last ready ($(node_pids)): ready"
    return 0
  fi
  start
  balance || exit 1
  warm_up
  rm -f "$state/disturbed"
  # Settled only once warm (or when no warm-up is wanted): a later call warms a cold broker on.
  if [[ "${SURGE_KAFKA_WARM_UP:-300}" == 0 || "$(cat "$state/warm" 2>/dev/null)" == "$(broker_pids)" ]]; then
    node_pids >"$state/settled"
  else
    rm -f "$state/settled"
  fi
}

# The base port and every node's pid, in order; a node that is down has none.
node_pids() {
  local node out="port $base:"
  for node in controller $(seq 1 "$BROKERS"); do out+=" $(pid_of "$node" || true)"; done
  echo "$out"
}

# Every node alive, none paused, and each pid still this cluster's JVM (not a zombie, not a
# reused pid).
all_running() {
  local node pid
  for node in controller $(seq 1 "$BROKERS"); do
    alive "$node" && ! paused "$node" || return 1
    pid="$(pid_of "$node")"
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$jvm_marker" || return 1
  done
}

# A pause or a leader move leaves the same processes in a state `ready` must repair.
disturbed() { touch "$state/disturbed"; }

terminate() {
  local node=$1 pid
  pid="$(pid_of "$node")" || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 300; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pidfile "$node")"
}

stop() {
  local node
  # Brokers first (each leaves cleanly while the controller still answers), then the controller.
  rm -f "$state/settled"
  for node in $(seq 1 "$BROKERS"); do terminate "$node" & done
  wait
  terminate controller
  # Any JVM of this cluster whose pid file was lost.
  pkill -KILL -f -- "$jvm_marker" 2>/dev/null || true
  # The owner's watcher, unless this is the watcher stopping the cluster.
  if [[ -f "$state/owner-watch.pid" ]]; then
    local watcher
    watcher="$(cat "$state/owner-watch.pid")"
    [[ "$watcher" == "$$" ]] || kill "$watcher" 2>/dev/null || true
    rm -f "$state/owner-watch.pid"
  fi
  say "stopped"
}

status() {
  local node state_word all_up=0
  for node in controller $(seq 1 "$BROKERS"); do
    if paused "$node"; then
      state_word="paused (pid $(pid_of "$node"))"
      all_up=1
    elif alive "$node"; then
      state_word="running (pid $(pid_of "$node"))"
    else
      state_word="down"
      all_up=1
    fi
    if [[ $node == controller ]]; then
      printf '%-10s %-24s controller 127.0.0.1:%s\n' controller "$state_word" "$(controller_port)"
    else
      printf '%-10s %-24s PLAINTEXT 127.0.0.1:%s  SSL 127.0.0.1:%s  SASL_SSL 127.0.0.1:%s\n' \
        "broker $node" "$state_word" "$(plain_port "$node")" "$(ssl_port "$node")" "$(sasl_port "$node")"
    fi
  done
  return $all_up
}

under_replicated() {
  java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(list plain_port)" --describe \
    --under-replicated-partitions 2>/dev/null | grep -c 'Partition:' || true
}

wait_replicated() {
  local seconds=${1:-$start_timeout}
  [[ "$seconds" =~ ^[0-9]+$ ]] || die "wait-replicated takes a number of seconds, not '$seconds'"
  local deadline=$((SECONDS + seconds)) count
  while true; do
    count="$(under_replicated)"
    if [[ "$count" == 0 ]]; then return 0; fi
    if ((SECONDS >= deadline)); then
      say "$count partitions still under-replicated after ${seconds}s"
      return 1
    fi
    sleep 1
  done
}

# SIGKILL, then wait (at most 10 s) until the process is gone: a `ready` or `restart` right
# after must not find it still alive.
kill_broker() {
  local n=$1 pid i
  pid="$(pid_of "$n")" || die "broker $n is not running"
  kill -KILL "$pid" 2>/dev/null || die "broker $n is not running"
  for ((i = 0; i < 100; i++)); do
    alive "$n" || break
    sleep 0.1
  done
  say "broker $n killed"
}

restart_broker() {
  local n=$1
  terminate "$n"
  launch "$n"
  wait_until "broker $n answering metadata" broker_answers "$n" || exit 1
  say "broker $n is back"
}

# A cold JVM handles a produce request several times slower than a warm one (the JIT has not
# compiled the produce and replication paths yet), and a real cluster is never cold. Before the
# first measurement, every broker leads and follows some traffic: Kafka's own producer and
# consumer on a topic of its own, acks=all, for about ten seconds.
# CPU time (clock ticks) the brokers' JIT compiler threads (C2, and C1) have used so far.
jit_ticks() {
  local total=0 node pid task
  for node in $(seq 1 "$BROKERS"); do
    pid="$(pid_of "$node")" || continue
    for task in /proc/"$pid"/task/*; do
      [[ "$(cat "$task/comm" 2>/dev/null)" == C[12]" Compiler"* ]] || continue
      total=$((total + $(sed 's/.*) //' "$task/stat" 2>/dev/null | awk '{print $12 + $13}')))
    done
  done
  echo "$total"
}

# The surge binary the warm-up drives: SURGE_BIN, else the checkout's release or debug build,
# else one on PATH; none is fine (the warm-up then uses Kafka's own clients only).
surge_bin() {
  local candidate
  for candidate in "${SURGE_BIN:-}" "$repo/target/release/surge" "$repo/target/debug/surge" \
    "$(command -v surge 2>/dev/null || true)"; do
    [[ -n "$candidate" && -x "$candidate" ]] && { echo "$candidate"; return 0; }
  done
  return 1
}

# A broker fresh from start is not the broker a benchmark should measure: on this 2-core machine
# its C2 JIT compiler takes a third of the CPU for the first few minutes of load, and surge's e2e
# p95 at 3,000/s went 20 s, 20 s, 13 s, 5.5 s, then 94 ms over five runs in a row while the
# compilers' CPU per run fell from 30 s to 2 s (benches/README.md, section 5). So load the
# cluster in rounds (Kafka's own producer and consumer, and surge through librdkafka when a
# surge binary is at hand: each client's requests take their own paths through the broker)
# until a round costs the compilers under a second of CPU, or the budget (SURGE_KAFKA_WARM_UP
# seconds, default 300; 0 skips it) runs out. Brokers that settled and have not been restarted
# since (the same processes) are still warm: they are not warmed again.
warm_up() {
  local topic=__surge-warm-up budget=${SURGE_KAFKA_WARM_UP:-300} tck began before used round=0
  local reader producer surge brokers
  ((budget > 0)) || return 0
  brokers="$(broker_pids)"
  if [[ -f "$state/warm" && "$(cat "$state/warm")" == "$brokers" ]]; then
    say "the brokers settled and have not been restarted since (pids $brokers): no warm-up"
    return 0
  fi
  tck=$(getconf CLK_TCK)
  surge="$(surge_bin)" || surge=""
  java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(list plain_port)" --create \
    --if-not-exists --topic "$topic" --partitions 6 --replication-factor 3 >/dev/null 2>&1 || true
  say "warming up the brokers until their JIT compilers settle (at most ${budget}s${surge:+, with $surge})"
  java_tool_command
  "${JAVA_TOOL[@]}" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$(list plain_port)" \
    --topic "$topic" --group __surge-warm-up --timeout-ms 60000 >/dev/null 2>&1 &
  reader=$!
  HELPERS=("$reader")
  began=$SECONDS
  while ((SECONDS - began < budget)); do
    round=$((round + 1))
    before=$(jit_ticks)
    "${JAVA_TOOL[@]}" org.apache.kafka.tools.ProducerPerformance --topic "$topic" --num-records 24000 \
      --record-size 512 --throughput 4000 --command-property bootstrap.servers="$(list plain_port)" \
      acks=all linger.ms=10 compression.type=snappy >/dev/null 2>&1 &
    producer=$!
    HELPERS=("$reader" "$producer")
    if [[ -n "$surge" ]]; then
      env -u KAFKA_BOOTSTRAP_SERVERS timeout 120 "$surge" run "$repo/deploy/local-kafka/warm-up.toml" \
        --bootstrap "$(list plain_port)" --quiet --out "$state/warm-up-run" >/dev/null 2>&1 || true
    fi
    wait "$producer" || say "warm-up producer failed (continuing)"
    HELPERS=("$reader")
    used=$(( ($(jit_ticks) - before) * 10 / tck ))
    if ((used < 10)); then
      echo "$brokers" >"$state/warm"
      say "warm after $((SECONDS - began))s ($round rounds; the last cost the JIT compilers $((used / 10)).$((used % 10))s of CPU)"
      break
    fi
    ((round % 5)) || say "still warming: $((SECONDS - began))s, the last round cost the JIT compilers $((used / 10)).$((used % 10))s of CPU"
  done
  end_helper "$reader"
  HELPERS=()
}

# After a start or a restart, the brokers that came up first lead every partition: one hot broker
# measures nothing about the cluster. Once every replica is in sync, hand each partition back to
# its preferred leader, as the controller's periodic check would.
balance() {
  wait_replicated "$start_timeout" || return 1
  java_tool org.apache.kafka.tools.LeaderElectionCommand --bootstrap-server "$(list plain_port)" \
    --election-type PREFERRED --all-topic-partitions >/dev/null 2>&1 || true
}

# Moves the leadership of one partition mid-run: the replica list is reordered so that its first
# broker is the preferred leader (ReassignPartitionsCommand; the replicas stay where they are),
# then a preferred election hands it the partition (LeaderElectionCommand).
move_leader() {
  local topic=${1:-} partition=${2:-} replicas=${3:-} file out
  [[ -n "$topic" && "$partition" =~ ^[0-9]+$ && "$replicas" =~ ^[1-3](,[1-3]){0,2}$ ]] ||
    die "usage: move-leader TOPIC PARTITION R1,R2,R3 (broker R1 leads afterwards)"
  file="$(mktemp)"
  printf '{"version":1,"partitions":[{"topic":"%s","partition":%s,"replicas":[%s]}]}\n' \
    "$topic" "$partition" "$replicas" >"$file"
  out="$(java_tool org.apache.kafka.tools.reassign.ReassignPartitionsCommand \
    --bootstrap-server "$(list plain_port)" --reassignment-json-file "$file" --execute 2>&1)" ||
    { rm -f "$file"; die "the reassignment of $topic-$partition was refused: $out"; }
  local deadline=$((SECONDS + 60))
  until java_tool org.apache.kafka.tools.reassign.ReassignPartitionsCommand \
    --bootstrap-server "$(list plain_port)" --reassignment-json-file "$file" --verify 2>&1 |
    grep -q "is completed"; do
    ((SECONDS < deadline)) || { rm -f "$file"; die "the reassignment of $topic-$partition did not complete in 60s"; }
    sleep 1
  done
  rm -f "$file"
  out="$(java_tool org.apache.kafka.tools.LeaderElectionCommand --bootstrap-server "$(list plain_port)" \
    --election-type PREFERRED --topic "$topic" --partition "$partition" 2>&1)" ||
    die "the election for $topic-$partition failed: $out"
  say "$topic-$partition is led by broker ${replicas%%,*}"
}

limited_user() {
  local out
  out="$(java_tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "$(list plain_port)" \
    --alter --entity-type users --entity-name "$LIMITED_USER" \
    --add-config "SCRAM-SHA-512=[password=$(scram_password limited)]" 2>&1)" ||
    die "the SCRAM user $LIMITED_USER could not be made: $out"
  say "SCRAM user $LIMITED_USER ready"
}

quota() {
  local client=${1:-} rate=${2:-} change out what
  [[ -n "$client" && "$rate" =~ ^[0-9]+$ ]] ||
    die "usage: quota CLIENT_ID BYTES_PER_S (0 removes the quota)"
  if ((10#$rate == 0)); then
    change=(--delete-config producer_byte_rate) what="removed"
  else
    change=(--add-config "producer_byte_rate=$((10#$rate))") what="$((10#$rate)) bytes/s per broker"
  fi
  if ! out="$(java_tool org.apache.kafka.tools.ConfigCommand --bootstrap-server "$(list plain_port)" \
    --alter --entity-type clients --entity-name "$client" "${change[@]}" 2>&1)"; then
    # Removing a quota the client does not have is already done.
    if ((10#$rate == 0)) && [[ "$out" == *"Invalid config(s): producer_byte_rate"* ]]; then
      what="none to remove"
    else
      die "the quota of client $client could not be changed: $out"
    fi
  fi
  say "client $client: producer_byte_rate $what"
}

acl() {
  java_tool org.apache.kafka.tools.AclCommand --bootstrap-server "$(list plain_port)" "$@" >/dev/null ||
    die "AclCommand $* failed"
}

env_exports() {
  [[ -f "$tls/ca.pem" ]] || die "not installed: run scripts/local-kafka.sh install (or start) first"
  cat <<EOF
export SURGE_SASL_USERNAME=$SCRAM_USER
export SURGE_SASL_PASSWORD=$(scram_password)
export SURGE_CA_FILE=$tls/ca.pem
export SURGE_SASL_SSL_BOOTSTRAP=$(list sasl_port)
export SURGE_TLS_BOOTSTRAP=$(list ssl_port)
export SURGE_PLAINTEXT_BOOTSTRAP=$(list plain_port)
export SURGE_LIMITED_USERNAME=$LIMITED_USER
export SURGE_LIMITED_PASSWORD=$(scram_password limited)
EOF
}

# Background helpers (tool JVMs) still running are stopped when the script ends, however it
# ends. Only live helpers are listed: a reaped pid may since belong to another process.
HELPERS=()
end_helpers() {
  local pid
  for pid in "${HELPERS[@]}"; do end_helper "$pid"; done
}
trap end_helpers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

case "${1:-}" in
  install) install ;;
  start) start ;;
  ready) ready ;;
  stop) stop ;;
  status) status ;;
  kill) check_broker "${2:-}"; kill_broker "$2" ;;
  pause) check_broker "${2:-}"; alive "$2" || die "broker $2 is not running"; disturbed; kill -STOP "$(pid_of "$2")"; say "broker $2 paused" ;;
  resume) check_broker "${2:-}"; alive "$2" || die "broker $2 is not running"; disturbed; kill -CONT "$(pid_of "$2")"; say "broker $2 resumed" ;;
  restart) check_broker "${2:-}"; restart_broker "$2" ;;
  wait-replicated) wait_replicated "${2:-}" ;;
  balance) balance ;;
  move-leader) disturbed; move_leader "${2:-}" "${3:-}" "${4:-}" ;;
  limited-user) limited_user ;;
  acl) shift; acl "$@" ;;
  quota) quota "${2:-}" "${3:-}" ;;
  env) env_exports ;;
  classpath) install_jars; echo "$libs/*" ;;
  reset) stop; rm -rf "$state/controller" "$state/broker-"[0-9]* "$state/config"; say "data deleted" ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
