#!/usr/bin/env bash
# Local backing services for order-service: PostgreSQL, Memcached, Redis, Kafka (KRaft),
# plus Chromium (install only). No Docker, no systemd: Debian packages + Maven Central jars.
#
#   scripts/services.sh up [SERVICE...]       install where missing, start, wait until ready
#   scripts/services.sh down [SERVICE...]     stop (idempotent)
#   scripts/services.sh start|stop|restart SERVICE...
#   scripts/services.sh status                one line per service
#   scripts/services.sh install [SERVICE...]  install only (apt packages, Kafka jars)
#   scripts/services.sh reset-data            stop all, wipe data dirs (jar cache is kept)
#
# SERVICE: postgres memcached redis kafka chromium, or "all".
# No SERVICE for up/down/install = postgres memcached redis kafka (chromium only with "all").
#
# Endpoints (loopback only): PostgreSQL 127.0.0.1:5432 (role/password/db "orders", plus db
# "orders_test"), Memcached 127.0.0.1:11211, Redis 127.0.0.1:6379, Kafka 127.0.0.1:9092
# (KRaft controller 127.0.0.1:9093).
#
# Environment:
#   ORDER_SERVICES_DIR   state dir (data, logs, pid files); default <repo>/.services
#   ORDER_KAFKA_VERSION  default 4.1.1 (4.2.0 works too); jars resolved by Maven once into
#                        <repo>/.cache/kafka/<version>/libs
#   ORDER_KAFKA_LOG4J_VERSION  log4j2 binding; default 2.24.3 for 4.1.x, 2.25.3 otherwise
#   SERVICES_LOCK_TIMEOUT  seconds to wait for another running services.sh (default 900)
#   ORDER_PG_PORT ORDER_MEMCACHED_PORT ORDER_REDIS_PORT ORDER_KAFKA_PORT
#   ORDER_KAFKA_CONTROLLER_PORT  port overrides (only for running a second set)
#
# Logs (under the state dir): postgres/postgres.log, memcached/memcached.log,
# redis/redis.log, kafka/logs/server.log (+ kafka.out: JVM stdout/stderr). When the
# "postgres" user cannot reach the state dir (e.g. a clone under /root), PostgreSQL's data,
# socket and log go to /var/lib/postgresql/order-service/<hash of state dir>/ instead.
# A port already served by a process this script did not start: Debian's own daemon is
# stopped; any other server is used as is if it answers (with a warning), and then
# stop/restart of that service exit non-zero, since they cannot break it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$SCRIPT_DIR/.." && pwd)
STATE_DIR=${ORDER_SERVICES_DIR:-$REPO_DIR/.services}
[[ $STATE_DIR == /* ]] || STATE_DIR=$PWD/$STATE_DIR

CORE_SERVICES=(postgres memcached redis kafka)
ALL_SERVICES=(postgres memcached redis kafka chromium)

# Fixed by the project; overridable only to run a second, separate set (e.g. to test this
# script while the normal set is up): use the same variables for every command.
PG_PORT=${ORDER_PG_PORT:-5432}
MC_PORT=${ORDER_MEMCACHED_PORT:-11211}
REDIS_PORT=${ORDER_REDIS_PORT:-6379}
KAFKA_PORT=${ORDER_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${ORDER_KAFKA_CONTROLLER_PORT:-9093}

PG_TIMEOUT=60
MC_TIMEOUT=20
REDIS_TIMEOUT=20
KAFKA_TIMEOUT=120
KAFKA_STOP_TIMEOUT=30

KAFKA_VERSION=${ORDER_KAFKA_VERSION:-4.1.1}
case $KAFKA_VERSION in
  4.1.*) _default_log4j=2.24.3 ;;
  *) _default_log4j=2.25.3 ;;
esac
KAFKA_LOG4J_VERSION=${ORDER_KAFKA_LOG4J_VERSION:-$_default_log4j}
KAFKA_LIBS=$REPO_DIR/.cache/kafka/$KAFKA_VERSION/libs
KAFKA_LIBS_MARKER=$KAFKA_LIBS/.complete

# ----------------------------------------------------------------------------- helpers

log() { printf '[services] %s\n' "$*"; }
warn() { printf '[services] WARNING: %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

# Print the last lines of a log file (to stderr) under a header.
show_tail() {
  local file=$1 n=${2:-60}
  if [[ -s $file ]]; then
    printf '[services] ----- last %s lines of %s -----\n' "$n" "$file" >&2
    tail -n "$n" "$file" >&2 || true
    printf '[services] ----- end of %s -----\n' "$file" >&2
  else
    printf '[services] (log %s is missing or empty)\n' "$file" >&2
  fi
}

# TCP port accepts a connection on 127.0.0.1?
port_accepts() { (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Is anything listening on the port (any address)? Does not connect.
port_listening() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]
  else
    port_accepts "$port"
  fi
}

port_owner() {
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null || true
  fi
}

pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

read_pidfile() {
  local f=$1 pid=""
  [[ -f $f ]] && read -r pid <"$f" 2>/dev/null || true
  [[ $pid =~ ^[0-9]+$ ]] && printf '%s' "$pid"
  return 0
}

# pid_matches PID PATTERN: process alive and its command line contains PATTERN.
pid_matches() {
  local pid=$1 pattern=$2 cmdline
  pid_alive "$pid" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$pattern"* ]]
}

# wait_for DESC TIMEOUT CMD...  CMD exit code: 0 ready, 1 not yet, >=2 give up now.
wait_for() {
  local desc=$1 timeout=$2 rc=0 start=$SECONDS next=5
  shift 2
  "$@" || rc=$?
  ((rc == 0)) && return 0
  ((rc >= 2)) && return 1
  log "waiting for $desc (timeout ${timeout}s)..."
  while ((SECONDS - start < timeout)); do
    sleep 0.25
    rc=0
    "$@" || rc=$?
    if ((rc == 0)); then
      log "$desc: ready after $((SECONDS - start))s"
      return 0
    fi
    ((rc >= 2)) && return 1
    if ((SECONDS - start >= next)); then
      log "  ...still waiting for $desc ($((SECONDS - start))s)"
      next=$((next + 10))
    fi
  done
  printf '[services] ERROR: timed out after %ss waiting for %s\n' "$timeout" "$desc" >&2
  return 1
}

# Start CMD detached (own session, stdin from /dev/null, output appended to LOG) and write
# its pid to PIDFILE. The pid is that of CMD itself (bash execs it).
spawn_daemon() {
  local pidfile=$1 logfile=$2
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$pidfile" "$@" \
    </dev/null >>"$logfile" 2>&1 9>&- &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s $pidfile ]] && return 0
    sleep 0.1
  done
  die "could not start: $* (no pid file $pidfile)"
}

# stop_pid NAME PID TIMEOUT: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local name=$1 pid=$2 timeout=$3 start=$SECONDS
  pid_alive "$pid" || return 0
  log "stopping $name (pid $pid)..."
  kill -TERM "$pid" 2>/dev/null || true
  while pid_alive "$pid"; do
    if ((SECONDS - start >= timeout)); then
      warn "$name (pid $pid) did not exit within ${timeout}s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  log "$name stopped"
}

need_root() {
  [[ $EUID -eq 0 ]] || die "must run as root (apt-get, runuser postgres)"
}

# Servers found on our ports that this script did not start (" name name ").
FOREIGN=" "
STOP_FOREIGN=" "

# ensure_port_free NAME PORT [DISTRO_SERVICE] [HEALTH_FN]
# Port busy with a process this script did not start: stop Debian's own daemon if that is
# it; if HEALTH_FN says the server there works, warn and return 3 (caller uses it as is);
# otherwise fail loudly.
ensure_port_free() {
  local name=$1 port=$2 distro_service=${3:-} health=${4:-}
  port_listening "$port" || return 0
  if [[ -n $distro_service && -x /etc/init.d/$distro_service ]] &&
    service "$distro_service" status >/dev/null 2>&1; then
    warn "port $port is in use by Debian's own $distro_service service; stopping it"
    service "$distro_service" stop >/dev/null 2>&1 9>&- || true
    local i
    for ((i = 0; i < 50; i++)); do
      port_listening "$port" || return 0
      sleep 0.2
    done
  fi
  if [[ -n $health ]] && "$health"; then
    warn "$name: port $port is served by a process NOT started by services.sh; using it as is."
    warn "  stop/start/restart $name cannot control it. Owner: $(port_owner "$port" | awk '{print $NF}')"
    FOREIGN+="$name "
    return 3
  fi
  printf '[services] ERROR: cannot start %s: port %s is already in use by a process this script did not start:\n' \
    "$name" "$port" >&2
  port_owner "$port" >&2
  printf '[services] stop that process (or free the port) and run again.\n' >&2
  exit 1
}

is_foreign() { [[ $FOREIGN == *" $1 "* ]]; }

# After stopping our own server (or finding none): is the port still served by another?
check_stopped() {
  local name=$1 port=$2
  if port_listening "$port"; then
    warn "$name: port $port is still served by a process NOT started by services.sh (not stopped):"
    port_owner "$port" >&2
    STOP_FOREIGN+="$name "
  fi
  return 0
}

# ----------------------------------------------------------------------------- apt

APT_UPDATED=0
apt_install() {
  (($# > 0)) || return 0
  need_root
  local created_policy=0 rc=0
  export DEBIAN_FRONTEND=noninteractive
  local apt_opts=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  if ((APT_UPDATED == 0)); then
    log "apt-get update"
    apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null || die "apt-get update failed"
    APT_UPDATED=1
  fi
  # Keep the packages' init scripts from starting Debian's own daemons on our ports.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  log "apt-get install $*"
  apt-get install "${apt_opts[@]}" "$@" 9>&- || rc=$?
  ((created_policy)) && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || die "apt-get install $* failed (exit $rc)"
}

# Debian package names missing for one service (printed one per line).
missing_packages() {
  case $1 in
    postgres) [[ -n $(pg_bindir_newest) ]] && command -v psql >/dev/null 2>&1 || echo postgresql ;;
    memcached) command -v memcached >/dev/null 2>&1 || echo memcached ;;
    redis)
      command -v redis-server >/dev/null 2>&1 || echo redis-server
      command -v redis-cli >/dev/null 2>&1 || echo redis-tools
      ;;
    kafka)
      java_ok || echo openjdk-17-jre-headless
      if [[ ! -f $KAFKA_LIBS_MARKER ]] && ! command -v mvn >/dev/null 2>&1; then echo maven; fi
      ;;
    chromium)
      [[ -x /usr/bin/chromium ]] || echo chromium
      [[ -x /usr/bin/chromedriver ]] || echo chromium-driver
      ;;
  esac
}

java_ok() {
  command -v java >/dev/null 2>&1 || return 1
  local v
  v=$(java -version 2>&1 | awk -F'"' '/version/ && v == "" {v = $2} END {print v}')
  [[ ${v%%.*} =~ ^[0-9]+$ ]] && ((${v%%.*} >= 17))
}

# install SERVICE...: one apt-get run for everything missing, then the Kafka jars.
install_services() {
  local svc pkgs=() p
  for svc in "$@"; do
    while IFS= read -r p; do
      [[ -n $p ]] && pkgs+=("$p")
    done < <(missing_packages "$svc")
  done
  if ((${#pkgs[@]} > 0)); then
    apt_install "${pkgs[@]}"
  fi
  for svc in "$@"; do
    case $svc in
      postgres) pg_stop_debian_clusters ;;
      kafka) kafka_resolve_libs ;;
    esac
  done
}

# ----------------------------------------------------------------------------- postgres

pg_bindir_newest() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [[ -x $d/postgres && -x $d/initdb && -x $d/pg_ctl ]]; then printf '%s\n' "$d"; fi
  done | sort -t/ -k5,5n | tail -n1
}

# Where the postgres user can reach: the state dir, unless it is not traversable by
# "postgres" (e.g. under /root) or its socket path would be too long.
pg_paths() {
  PG_DIR=$STATE_DIR/postgres
  local probe=$STATE_DIR
  [[ -d $probe ]] || probe=$(dirname "$probe")
  if ! id postgres >/dev/null 2>&1 ||
    ! (cd / && runuser -u postgres -- test -x "$probe") 2>/dev/null ||
    ((${#PG_DIR} + 25 > 100)); then
    local h
    h=$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-12)
    PG_DIR=/var/lib/postgresql/order-service/$h
  fi
  PGDATA_DIR=$PG_DIR/data
  PG_SOCK=$PG_DIR/run
  PG_LOG=$PG_DIR/postgres.log
}

pg_run() { (cd / && runuser -u postgres -- "$@"); }

pg_bindir() {
  # The binaries matching an existing cluster's major version, else the newest.
  if [[ -f $PGDATA_DIR/PG_VERSION ]]; then
    local v
    v=$(<"$PGDATA_DIR/PG_VERSION")
    if [[ -x /usr/lib/postgresql/$v/bin/postgres ]]; then
      echo "/usr/lib/postgresql/$v/bin"
      return 0
    fi
    die "data dir $PGDATA_DIR is PostgreSQL $v but /usr/lib/postgresql/$v is not installed (run: $0 reset-data)"
  fi
  pg_bindir_newest
}

pg_running() {
  pg_paths
  [[ -f $PGDATA_DIR/postmaster.pid ]] || return 1
  local pid
  pid=$(head -n1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] && pid_matches "$pid" postgres
}

pg_pid() { head -n1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true; }

# Debian's packaged clusters (e.g. 15/main) listening on our port: stop them.
pg_stop_debian_clusters() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  local ver name port status _rest
  while read -r ver name port status _rest; do
    [[ $port == "$PG_PORT" && $status == online* ]] || continue
    warn "Debian's PostgreSQL cluster $ver/$name is running on port $PG_PORT; stopping it (pg_ctlcluster $ver $name stop)"
    pg_ctlcluster "$ver" "$name" stop 9>&- || warn "pg_ctlcluster $ver $name stop failed"
  done < <(pg_lsclusters -h 2>/dev/null || true)
}

pg_write_conf() {
  cat >"$PGDATA_DIR/order-service.conf" <<EOF
# Written by scripts/services.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 200
shared_buffers = 256MB
# Durability is under test: keep fsync and friends on.
fsync = on
synchronous_commit = on
full_page_writes = on
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
  chown postgres:postgres "$PGDATA_DIR/order-service.conf"
}

pg_init() {
  local bindir=$1
  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  chmod 700 "$PG_DIR"
  mkdir -p "$PG_SOCK"
  chown postgres:postgres "$PG_SOCK"
  if [[ -f $PGDATA_DIR/PG_VERSION ]]; then
    return 0
  fi
  log "initializing PostgreSQL cluster in $PGDATA_DIR"
  rm -rf "$PGDATA_DIR"
  mkdir -p "$PGDATA_DIR"
  chown postgres:postgres "$PGDATA_DIR"
  chmod 700 "$PGDATA_DIR"
  if ! pg_run "$bindir/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1; then
    show_tail "$PG_DIR/initdb.log"
    rm -rf "$PGDATA_DIR"
    die "initdb failed"
  fi
  printf "\n# order-service test settings (scripts/services.sh)\ninclude_if_exists = 'order-service.conf'\n" \
    >>"$PGDATA_DIR/postgresql.conf"
}

pg_launch() {
  pg_paths
  if pg_running; then
    log "postgres: already running (pid $(pg_pid), 127.0.0.1:$PG_PORT)"
    return 0
  fi
  local bindir
  bindir=$(pg_bindir)
  [[ -n $bindir ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin"
  pg_stop_debian_clusters
  ensure_port_free postgres "$PG_PORT" "" pg_foreign_ok || return 0
  pg_init "$bindir"
  pg_write_conf
  # A stale postmaster.pid (after a crash / SIGKILL) is handled by postgres itself.
  log "starting postgres ($bindir, data $PGDATA_DIR)"
  touch "$PG_LOG"
  chown postgres:postgres "$PG_LOG"
  if ! pg_run "$bindir/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t "$PG_TIMEOUT" start >/dev/null 9>&-; then
    show_tail "$PG_LOG"
    die "pg_ctl start failed"
  fi
}

pg_ready_check() {
  local bindir=$1
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 && return 0
  [[ -f $PGDATA_DIR/postmaster.pid ]] || return 2 # postmaster exited
  return 1
}

pg_foreign_ok() {
  PGCONNECT_TIMEOUT=3 psql "postgresql://orders:orders@127.0.0.1:$PG_PORT/orders" -qAtXc 'select 1' >/dev/null 2>&1
}

pg_wait() {
  if is_foreign postgres; then
    log "postgres: using the foreign server on 127.0.0.1:$PG_PORT (orders/orders login works)"
    return 0
  fi
  pg_paths
  local bindir
  bindir=$(pg_bindir)
  if ! wait_for "postgres on 127.0.0.1:$PG_PORT (pg_isready)" "$PG_TIMEOUT" pg_ready_check "$bindir"; then
    show_tail "$PG_LOG"
    die "postgres did not become ready"
  fi
  pg_bootstrap "$bindir"
  log "postgres: ready at postgresql://orders:orders@127.0.0.1:$PG_PORT/orders"
}

# Role "orders" (LOGIN CREATEDB, password "orders"), databases orders + orders_test.
pg_bootstrap() {
  local bindir=$1 out
  if ! out=$(pg_run "$bindir/psql" -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres \
    -v ON_ERROR_STOP=1 -qAtX 2>&1 <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'orders') THEN
    CREATE ROLE orders LOGIN CREATEDB PASSWORD 'orders';
  ELSE
    ALTER ROLE orders LOGIN CREATEDB PASSWORD 'orders';
  END IF;
END
$$;
SELECT format('CREATE DATABASE %I OWNER orders', d)
  FROM unnest(ARRAY['orders', 'orders_test']) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
SQL
  ); then
    printf '%s\n' "$out" >&2
    die "could not create role/databases for orders"
  fi
}

pg_stop() {
  pg_paths
  if ! pg_running; then
    log "postgres: not running"
    check_stopped postgres "$PG_PORT"
    return 0
  fi
  local bindir
  bindir=$(pg_bindir)
  log "stopping postgres (pid $(pg_pid))..."
  if ! pg_run "$bindir/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null; then
    warn "fast shutdown failed; trying immediate"
    pg_run "$bindir/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 30 stop >/dev/null ||
      die "could not stop postgres (see $PG_LOG)"
  fi
  log "postgres stopped"
  check_stopped postgres "$PG_PORT"
}

pg_status() {
  pg_paths
  if pg_running; then
    status_line postgres running "127.0.0.1:$PG_PORT" "pid $(pg_pid), data $PGDATA_DIR"
  else
    status_line postgres stopped "127.0.0.1:$PG_PORT" "$(foreign_note "$PG_PORT")"
  fi
}

# ----------------------------------------------------------------------------- memcached

MC_DIR=$STATE_DIR/memcached
MC_PID=$MC_DIR/memcached.pid
MC_LOG=$MC_DIR/memcached.log

mc_running() {
  local pid
  pid=$(read_pidfile "$MC_PID")
  [[ -n $pid ]] && pid_matches "$pid" memcached
}

mc_launch() {
  if mc_running; then
    log "memcached: already running (pid $(read_pidfile "$MC_PID"), 127.0.0.1:$MC_PORT)"
    return 0
  fi
  ensure_port_free memcached "$MC_PORT" memcached mc_foreign_ok || return 0
  mkdir -p "$MC_DIR"
  local user=nobody
  id memcache >/dev/null 2>&1 && user=memcache
  log "starting memcached (user $user, 256 MB)"
  # Foreground process, detached by spawn_daemon, so that root writes the pid file
  # (memcached -d writes it after dropping privileges, which fails in root-only dirs).
  spawn_daemon "$MC_PID" "$MC_LOG" memcached -u "$user" -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 256 -c 1024
}

mc_version() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"
    printf 'version\r\n' >&3
    IFS= read -r -t 3 line <&3
    exec 3>&-
    [[ $line == VERSION* ]] && printf '%s\n' "${line%$'\r'}"
  ) 2>/dev/null
}

mc_ready_check() {
  mc_version >/dev/null && return 0
  mc_running || return 2
  return 1
}

mc_foreign_ok() { mc_version >/dev/null; }

mc_wait() {
  if is_foreign memcached; then
    log "memcached: using the foreign server on 127.0.0.1:$MC_PORT ($(mc_version))"
    return 0
  fi
  if ! wait_for "memcached on 127.0.0.1:$MC_PORT (version)" "$MC_TIMEOUT" mc_ready_check; then
    show_tail "$MC_LOG"
    die "memcached did not become ready"
  fi
  log "memcached: ready at 127.0.0.1:$MC_PORT ($(mc_version))"
}

mc_stop() {
  if ! mc_running; then
    log "memcached: not running"
    rm -f "$MC_PID"
    check_stopped memcached "$MC_PORT"
    return 0
  fi
  stop_pid memcached "$(read_pidfile "$MC_PID")" 10
  rm -f "$MC_PID"
  check_stopped memcached "$MC_PORT"
}

mc_status() {
  if mc_running; then
    status_line memcached running "127.0.0.1:$MC_PORT" "pid $(read_pidfile "$MC_PID")"
  else
    status_line memcached stopped "127.0.0.1:$MC_PORT" "$(foreign_note "$MC_PORT")"
  fi
}

# ----------------------------------------------------------------------------- redis

REDIS_DIR=$STATE_DIR/redis
REDIS_PID=$REDIS_DIR/redis.pid
REDIS_LOG=$REDIS_DIR/redis.log

redis_running() {
  local pid
  pid=$(read_pidfile "$REDIS_PID")
  [[ -n $pid ]] && pid_matches "$pid" redis-server
}

redis_launch() {
  if redis_running; then
    log "redis: already running (pid $(read_pidfile "$REDIS_PID"), 127.0.0.1:$REDIS_PORT)"
    return 0
  fi
  ensure_port_free redis "$REDIS_PORT" redis-server redis_foreign_ok || return 0
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PID"
  log "starting redis"
  if ! redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
    --pidfile "$REDIS_PID" --dir "$REDIS_DIR" --logfile "$REDIS_LOG" \
    --save '' --appendonly no 9>&-; then
    show_tail "$REDIS_LOG"
    die "redis-server failed to start"
  fi
}

redis_ready_check() {
  [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && return 0
  [[ -f $REDIS_PID ]] && ! redis_running && return 2
  return 1
}

redis_foreign_ok() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

redis_wait() {
  if is_foreign redis; then
    log "redis: using the foreign server on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  if ! wait_for "redis on 127.0.0.1:$REDIS_PORT (PING)" "$REDIS_TIMEOUT" redis_ready_check; then
    show_tail "$REDIS_LOG"
    die "redis did not become ready"
  fi
  log "redis: ready at 127.0.0.1:$REDIS_PORT"
}

redis_stop() {
  if ! redis_running; then
    log "redis: not running"
    rm -f "$REDIS_PID"
    check_stopped redis "$REDIS_PORT"
    return 0
  fi
  stop_pid redis "$(read_pidfile "$REDIS_PID")" 15
  rm -f "$REDIS_PID"
  check_stopped redis "$REDIS_PORT"
}

redis_status() {
  if redis_running; then
    status_line redis running "127.0.0.1:$REDIS_PORT" "pid $(read_pidfile "$REDIS_PID")"
  else
    status_line redis stopped "127.0.0.1:$REDIS_PORT" "$(foreign_note "$REDIS_PORT")"
  fi
}

# ----------------------------------------------------------------------------- kafka

K_DIR=$STATE_DIR/kafka
K_DATA=$K_DIR/data
K_LOGS=$K_DIR/logs
K_PROPS=$K_DIR/server.properties
K_PID=$K_DIR/kafka.pid
K_OUT=$K_LOGS/kafka.out
K_SERVER_LOG=$K_LOGS/server.log
K_OFFSET=$K_DIR/server.log.offset
K_LOG4J=$SCRIPT_DIR/kafka/log4j2.properties

kafka_resolve_libs() {
  [[ -f $KAFKA_LIBS_MARKER ]] && return 0
  command -v mvn >/dev/null 2>&1 || die "mvn not found (run: $0 install kafka)"
  local tmp=$KAFKA_LIBS.tmp.$$ mlog=$REPO_DIR/.cache/kafka/$KAFKA_VERSION/mvn.log start=$SECONDS
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  rm -rf "$tmp"
  log "resolving Kafka $KAFKA_VERSION jars (log4j $KAFKA_LOG4J_VERSION) from Maven Central into $KAFKA_LIBS"
  if ! mvn -q -B -f "$SCRIPT_DIR/kafka/pom.xml" \
    -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$KAFKA_LOG4J_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
    >"$mlog" 2>&1 9>&-; then
    show_tail "$mlog" 40
    rm -rf "$tmp"
    die "Maven could not resolve Kafka $KAFKA_VERSION"
  fi
  local jar
  for jar in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-server-$KAFKA_VERSION.jar" \
    "log4j-core-$KAFKA_LOG4J_VERSION.jar" "log4j-slf4j-impl-$KAFKA_LOG4J_VERSION.jar"; do
    [[ -f $tmp/$jar ]] || { rm -rf "$tmp"; die "resolved jars incomplete: $jar missing"; }
  done
  # Every org.apache.kafka artifact must be at one version.
  local odd="" n=0
  for jar in "$tmp"/kafka-*.jar "$tmp"/kafka_*.jar; do
    [[ -e $jar && $jar != *"-$KAFKA_VERSION.jar" ]] && odd+=" ${jar##*/}"
  done
  [[ -z $odd ]] || { rm -rf "$tmp"; die "mixed Kafka versions resolved:$odd"; }
  for jar in "$tmp"/*.jar; do n=$((n + 1)); done
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  printf 'kafka=%s log4j=%s jars=%s resolved=%s\n' "$KAFKA_VERSION" "$KAFKA_LOG4J_VERSION" \
    "$n" "$(date -u +%FT%TZ)" >"$KAFKA_LIBS_MARKER"
  log "Kafka jars ready ($n jars, $((SECONDS - start))s)"
}

kafka_running() {
  local pid
  pid=$(read_pidfile "$K_PID")
  [[ -n $pid ]] && pid_matches "$pid" kafka.Kafka
}

kafka_java() {
  # java [jvm opts...] MAINCLASS args...
  java -Dkafka.logs.dir="$K_LOGS" -Dlog4j2.configurationFile="$K_LOG4J" -cp "$KAFKA_LIBS/*" "$@"
}

kafka_format() {
  [[ -f $K_DATA/meta.properties ]] && return 0
  local cid
  if [[ -s $K_DIR/cluster.id ]]; then
    cid=$(<"$K_DIR/cluster.id")
  else
    cid=$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$K_OUT" | tail -n1)
    [[ $cid =~ ^[A-Za-z0-9_-]{22}$ ]] || { show_tail "$K_OUT"; die "could not generate a Kafka cluster id (got '$cid')"; }
    printf '%s\n' "$cid" >"$K_DIR/cluster.id"
  fi
  log "formatting Kafka log dir $K_DATA (cluster id $cid, standalone KRaft)"
  if ! kafka_java kafka.tools.StorageTool format --standalone -g -t "$cid" -c "$K_PROPS" >>"$K_OUT" 2>&1; then
    show_tail "$K_OUT"
    die "kafka StorageTool format failed"
  fi
}

kafka_launch() {
  if kafka_running; then
    log "kafka: already running (pid $(read_pidfile "$K_PID"), 127.0.0.1:$KAFKA_PORT)"
    return 0
  fi
  [[ -f $KAFKA_LIBS_MARKER ]] || kafka_resolve_libs
  java_ok || die "Java 17+ not found (run: $0 install kafka)"
  ensure_port_free kafka "$KAFKA_PORT" "" kafka_foreign_ok || return 0
  ensure_port_free "kafka controller" "$KAFKA_CONTROLLER_PORT"
  mkdir -p "$K_DATA" "$K_LOGS"
  sed -e "s|@LOG_DIRS@|$K_DATA|g" -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
    -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
    "$SCRIPT_DIR/kafka/server.properties" >"$K_PROPS"
  [[ -f $K_OUT ]] && mv -f "$K_OUT" "$K_OUT.prev"
  : >"$K_OUT"
  kafka_format
  # Readiness is judged on what the broker logs after this offset.
  local size=0
  [[ -f $K_SERVER_LOG ]] && size=$(stat -c %s "$K_SERVER_LOG")
  echo "$size" >"$K_OFFSET"
  log "starting kafka $KAFKA_VERSION (KRaft combined node, log dir $K_DATA)"
  spawn_daemon "$K_PID" "$K_OUT" java -Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true -Dkafka.logs.dir="$K_LOGS" \
    -Dlog4j2.configurationFile="$K_LOG4J" -cp "$KAFKA_LIBS/*" kafka.Kafka "$K_PROPS"
}

kafka_started_logged() {
  [[ -f $K_SERVER_LOG ]] || return 1
  local off=0 size
  [[ -s $K_OFFSET ]] && off=$(<"$K_OFFSET")
  size=$(stat -c %s "$K_SERVER_LOG")
  ((size < off)) && return 0 # rolled over since start: it has been running a while
  # grep -c reads all input: grep -q would SIGPIPE tail, which pipefail turns into 141.
  tail -c +"$((off + 1))" "$K_SERVER_LOG" | grep -c 'Kafka Server started' >/dev/null
}

kafka_ready_check() {
  kafka_running || return 2
  { port_accepts "$KAFKA_PORT" && kafka_started_logged; } || return 1
}

kafka_foreign_ok() { port_accepts "$KAFKA_PORT"; }

kafka_wait() {
  if is_foreign kafka; then
    log "kafka: using the foreign broker on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  if ! wait_for "kafka on 127.0.0.1:$KAFKA_PORT (port + \"Kafka Server started\")" "$KAFKA_TIMEOUT" kafka_ready_check; then
    kafka_running || printf '[services] ERROR: the Kafka JVM exited\n' >&2
    show_tail "$K_OUT" 40
    show_tail "$K_SERVER_LOG" 80
    die "kafka did not become ready"
  fi
  log "kafka: ready at 127.0.0.1:$KAFKA_PORT"
}

kafka_stop() {
  if ! kafka_running; then
    log "kafka: not running"
    rm -f "$K_PID"
    check_stopped kafka "$KAFKA_PORT"
    return 0
  fi
  stop_pid kafka "$(read_pidfile "$K_PID")" "$KAFKA_STOP_TIMEOUT"
  rm -f "$K_PID"
  check_stopped kafka "$KAFKA_PORT"
}

kafka_status() {
  if kafka_running; then
    status_line kafka running "127.0.0.1:$KAFKA_PORT" "pid $(read_pidfile "$K_PID"), $KAFKA_VERSION, controller :$KAFKA_CONTROLLER_PORT"
  else
    status_line kafka stopped "127.0.0.1:$KAFKA_PORT" "$(foreign_note "$KAFKA_PORT")"
  fi
}

# ----------------------------------------------------------------------------- chromium

chromium_status() {
  if [[ -x /usr/bin/chromium ]]; then
    local drv="no chromedriver"
    [[ -x /usr/bin/chromedriver ]] && drv="chromedriver /usr/bin/chromedriver"
    status_line chromium installed - "/usr/bin/chromium, $drv"
  else
    status_line chromium missing - "run: $0 install chromium"
  fi
}

# ----------------------------------------------------------------------------- dispatch

status_line() { printf '%-10s %-9s %-16s %s\n' "$1" "$2" "$3" "${4:-}"; }

foreign_note() {
  port_listening "$1" && printf 'port %s is in use by another process' "$1"
  return 0
}

svc_launch() {
  case $1 in
    postgres) pg_launch ;;
    memcached) mc_launch ;;
    redis) redis_launch ;;
    kafka) kafka_launch ;;
    chromium) : ;;
  esac
}

svc_wait() {
  case $1 in
    postgres) pg_wait ;;
    memcached) mc_wait ;;
    redis) redis_wait ;;
    kafka) kafka_wait ;;
    chromium) log "chromium: installed ($(/usr/bin/chromium --version 2>/dev/null || echo '?'))" ;;
  esac
}

svc_stop() {
  case $1 in
    postgres) pg_stop ;;
    memcached) mc_stop ;;
    redis) redis_stop ;;
    kafka) kafka_stop ;;
    chromium) : ;;
  esac
}

# Expand/validate service arguments into SERVICES; $1 = default set name.
parse_services() {
  local default=$1 s
  shift
  SERVICES=()
  if (($# == 0)); then
    if [[ $default == core ]]; then SERVICES=("${CORE_SERVICES[@]}"); else SERVICES=(); fi
    return 0
  fi
  for s in "$@"; do
    case $s in
      all) SERVICES+=("${ALL_SERVICES[@]}") ;;
      postgres | postgresql | pg) SERVICES+=(postgres) ;;
      memcached | memcache) SERVICES+=(memcached) ;;
      redis) SERVICES+=(redis) ;;
      kafka) SERVICES+=(kafka) ;;
      chromium | chrome) SERVICES+=(chromium) ;;
      *) die "unknown service '$s' (one of: ${ALL_SERVICES[*]}, all)" ;;
    esac
  done
  # de-duplicate, keep order
  local seen=" " out=()
  for s in "${SERVICES[@]}"; do
    [[ $seen == *" $s "* ]] && continue
    seen+="$s "
    out+=("$s")
  done
  SERVICES=("${out[@]}")
}

take_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  if ! flock -n 9; then
    log "another services.sh is running; waiting for its lock ($STATE_DIR/.lock)..."
    flock -w "${SERVICES_LOCK_TIMEOUT:-900}" 9 || die "timed out waiting for the lock $STATE_DIR/.lock"
  fi
}

cmd_up() {
  local s t0=$SECONDS
  install_services "$@"
  # Launch everything first (Kafka's JVM boots while the others start), then wait.
  local order=()
  for s in "$@"; do [[ $s == kafka ]] && order+=(kafka); done
  for s in "$@"; do [[ $s != kafka ]] && order+=("$s"); done
  for s in "${order[@]}"; do svc_launch "$s"; done
  for s in "$@"; do svc_wait "$s"; done
  log "up: ${*} ready ($((SECONDS - t0))s)"
}

cmd_down() {
  local i
  for ((i = $# ; i >= 1; i--)); do svc_stop "${!i}"; done
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  (($# > 0)) && shift
  case $cmd in
    up)
      need_root
      parse_services core "$@"
      take_lock
      cmd_up "${SERVICES[@]}"
      ;;
    down)
      need_root
      parse_services core "$@"
      take_lock
      cmd_down "${SERVICES[@]}"
      ;;
    start)
      need_root
      (($# > 0)) || die "usage: $0 start SERVICE..."
      parse_services none "$@"
      take_lock
      cmd_up "${SERVICES[@]}"
      ;;
    stop)
      need_root
      (($# > 0)) || die "usage: $0 stop SERVICE..."
      parse_services none "$@"
      take_lock
      cmd_down "${SERVICES[@]}"
      [[ $STOP_FOREIGN == " " ]] || die "stop:${STOP_FOREIGN% }: still served by a process services.sh did not start"
      ;;
    restart)
      need_root
      (($# > 0)) || die "usage: $0 restart SERVICE..."
      parse_services none "$@"
      take_lock
      cmd_down "${SERVICES[@]}"
      [[ $STOP_FOREIGN == " " ]] || die "restart:${STOP_FOREIGN% }: still served by a process services.sh did not start"
      cmd_up "${SERVICES[@]}"
      ;;
    status)
      if (($# > 0)); then parse_services none "$@"; else SERVICES=("${ALL_SERVICES[@]}"); fi
      local s
      for s in "${SERVICES[@]}"; do
        case $s in
          postgres) pg_status ;;
          memcached) mc_status ;;
          redis) redis_status ;;
          kafka) kafka_status ;;
          chromium) chromium_status ;;
        esac
      done
      ;;
    install)
      need_root
      parse_services core "$@"
      take_lock
      install_services "${SERVICES[@]}"
      log "install: ${SERVICES[*]} done"
      ;;
    reset-data)
      need_root
      take_lock
      cmd_down "${CORE_SERVICES[@]}"
      pg_paths
      log "wiping data: $PG_DIR $MC_DIR $REDIS_DIR $K_DIR"
      rm -rf "$PG_DIR" "$MC_DIR" "$REDIS_DIR" "$K_DIR"
      log "reset-data done (Kafka jar cache kept in $REPO_DIR/.cache/kafka)"
      ;;
    -h | --help | help | "")
      usage
      [[ -n $cmd ]] || exit 2
      ;;
    *)
      usage >&2
      die "unknown command '$cmd'"
      ;;
  esac
}

main "$@"
