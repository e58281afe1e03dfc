#!/usr/bin/env bash
# Ensure a streaming physical replica of the local primary (127.0.0.1:5432)
# runs on 127.0.0.1:5433, as a second Debian cluster "<major>/replica".
#
# Idempotent: if a hot standby already answers on 5433 this exits 0 at once.
# Otherwise it prepares the primary (wal_level, max_wal_senders, replication
# slots, pg_hba replication line), then either restarts an existing, intact
# replica cluster or rebuilds it with pg_basebackup, and waits (REPLICA_TIMEOUT,
# default 60s) until it accepts connections, is in recovery and is streaming.
#
# Usage: sudo scripts/replica/start-replica.sh [--rebuild]
#   --rebuild   always wipe and re-clone the replica (also: REPLICA_REBUILD=1)
#
# See docs/replica.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/replica/_common.sh
source "$SCRIPT_DIR/_common.sh"

set -o errtrace
trap 'rc=$?; printf "[replica] ERROR: command failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit "$rc"' ERR

REBUILD="${REPLICA_REBUILD:-0}"
for arg in "$@"; do
  case "$arg" in
    --rebuild) REBUILD=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

if [[ "$(id -u)" -ne 0 ]]; then
  die "run as root (needs pg_createcluster, /etc/postgresql and runuser)"
fi
for bin in pg_lsclusters pg_ctlcluster pg_createcluster pg_conftool pg_isready pg_basebackup psql runuser flock; do
  command -v "$bin" >/dev/null 2>&1 || die "required command not found: $bin"
done

PGV="$(detect_pg_major)"
REPLICA_CONF_DIR="/etc/postgresql/$PGV/$REPLICA_CLUSTER"
CONF_BEGIN="# >>> managed by scripts/replica/start-replica.sh >>>"
CONF_END="# <<< managed by scripts/replica/start-replica.sh <<<"

# Serialise concurrent runs (fd 9 is closed for every pg_ctlcluster call, see ctl()).
LOCK_FILE="/run/lock/pg-replica-$PGV-$REPLICA_CLUSTER.lock"
[[ -d /run/lock ]] || LOCK_FILE="/tmp/pg-replica-$PGV-$REPLICA_CLUSTER.lock"
exec 9>"$LOCK_FILE"
flock -w 300 9 || die "could not acquire $LOCK_FILE within 300s (another start-replica.sh running?)"

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

# Wait until PORT stops answering "rejecting connections" (server starting up
# or shutting down). Returns the final pg_isready status.
settle_isready() { # PORT TIMEOUT
  local port="$1" deadline=$((SECONDS + $2)) rc
  rc="$(isready_rc "$port")"
  while [[ "$rc" == 1 && $SECONDS -lt $deadline ]]; do
    sleep 0.5
    rc="$(isready_rc "$port")"
  done
  printf '%s\n' "$rc"
}

# Wait until the replica accepts connections, is in recovery and its WAL
# receiver is streaming. Returns 1 (with WAIT_REASON set) on timeout.
WAIT_REASON=""
wait_for_replica() { # TIMEOUT
  local deadline=$((SECONDS + $1)) rec recv
  while :; do
    if [[ "$(isready_rc "$REPLICA_PORT")" != 0 ]]; then
      WAIT_REASON="127.0.0.1:$REPLICA_PORT does not accept connections"
    elif ! rec="$(replica_sql 'select pg_is_in_recovery()' 2>/dev/null)"; then
      WAIT_REASON="cannot query 127.0.0.1:$REPLICA_PORT as $PG_SUPERUSER"
    elif [[ "$rec" != t ]]; then
      WAIT_REASON="server on $REPLICA_PORT is not in recovery (pg_is_in_recovery() = $rec)"
    else
      recv="$(replica_sql "select coalesce((select status from pg_stat_wal_receiver), 'none')" 2>/dev/null || echo unknown)"
      if [[ "$recv" == streaming ]]; then
        return 0
      fi
      WAIT_REASON="replica is in recovery but its WAL receiver is not streaming (status: $recv)"
    fi
    if [[ $SECONDS -ge $deadline ]]; then
      return 1
    fi
    sleep 0.5
  done
}

report() {
  local info
  info="$(replica_sql "select 'in_recovery=' || pg_is_in_recovery()
      || ' wal_receiver=' || coalesce((select status from pg_stat_wal_receiver), 'none')
      || ' replay=' || pg_get_wal_replay_pause_state()
      || ' replay_lsn=' || coalesce(pg_last_wal_replay_lsn()::text, '-')
      || ' replay_lag=' || coalesce((now() - pg_last_xact_replay_timestamp())::text, 'n/a')" 2>/dev/null || echo 'unavailable')"
  log "replica 127.0.0.1:$REPLICA_PORT ($PGV/$REPLICA_CLUSTER): $info"
}

# --------------------------------------------------------------------------
# 1. Fast path: something already answers on 5433 as a hot standby.
# --------------------------------------------------------------------------
rc="$(settle_isready "$REPLICA_PORT" "$REPLICA_TIMEOUT")"
if [[ "$rc" == 0 && "$REBUILD" != 1 ]]; then
  rec="$(replica_sql 'select pg_is_in_recovery()' 2>/dev/null || echo '?')"
  if [[ "$rec" == t ]]; then
    recv="$(replica_sql "select coalesce((select status from pg_stat_wal_receiver), 'none')" 2>/dev/null || echo unknown)"
    if [[ "$recv" != streaming ]]; then
      warn "replica on $REPLICA_PORT is in recovery but WAL receiver status is '$recv' (run with --rebuild if it does not catch up)"
    fi
    if [[ "$(replica_sql 'select pg_get_wal_replay_pause_state()' 2>/dev/null || true)" != not\ paused ]]; then
      warn "WAL replay is paused on the replica (a test left it so?); resume with: select pg_wal_replay_resume()"
    fi
    log "replica already running on 127.0.0.1:$REPLICA_PORT; nothing to do"
    report
    exit 0
  fi
fi
if [[ "$rc" == 0 ]]; then
  # Something answers but it is not a standby (or --rebuild). Only touch it if
  # it is our own replica cluster.
  if ! cluster_online "$PGV" "$REPLICA_CLUSTER"; then
    die "127.0.0.1:$REPLICA_PORT is served by something other than cluster $PGV/$REPLICA_CLUSTER and it is not a replica; refusing to touch it"
  fi
  [[ "$REBUILD" == 1 ]] || warn "cluster $PGV/$REPLICA_CLUSTER is running but is not in recovery (promoted?); rebuilding it"
  REBUILD=1
fi

# --------------------------------------------------------------------------
# 2. Primary: up, wal_level >= replica, wal senders + slots, pg_hba.
# --------------------------------------------------------------------------
ensure_primary_up() {
  local rc
  rc="$(settle_isready "$PRIMARY_PORT" "$REPLICA_TIMEOUT")"
  if [[ "$rc" != 0 ]]; then
    log "primary 127.0.0.1:$PRIMARY_PORT not accepting connections; starting cluster $PGV/$PRIMARY_CLUSTER"
    if ! cluster_online "$PGV" "$PRIMARY_CLUSTER"; then
      mark_log "$PGV" "$PRIMARY_CLUSTER"
      ctl "$PGV" "$PRIMARY_CLUSTER" start || { show_log_tail "$PGV" "$PRIMARY_CLUSTER"; die "could not start primary cluster $PGV/$PRIMARY_CLUSTER"; }
    fi
    local deadline=$((SECONDS + REPLICA_TIMEOUT))
    until [[ "$(isready_rc "$PRIMARY_PORT")" == 0 ]]; do
      if [[ $SECONDS -ge $deadline ]]; then
        show_log_tail "$PGV" "$PRIMARY_CLUSTER"
        die "primary 127.0.0.1:$PRIMARY_PORT did not accept connections within ${REPLICA_TIMEOUT}s"
      fi
      sleep 0.5
    done
  fi
  primary_sql 'select 1' >/dev/null || die "cannot connect to primary 127.0.0.1:$PRIMARY_PORT as $PG_SUPERUSER (trust auth expected)"
  [[ "$(primary_sql 'select pg_is_in_recovery()')" == f ]] || die "127.0.0.1:$PRIMARY_PORT is itself in recovery; expected a primary"
}

ensure_primary_settings() {
  local wal_level senders slots changes=()
  wal_level="$(primary_sql 'show wal_level')"
  senders="$(primary_sql 'show max_wal_senders')"
  slots="$(primary_sql 'show max_replication_slots')"
  if [[ "$wal_level" != replica && "$wal_level" != logical ]]; then
    changes+=("wal_level = 'replica'")
  fi
  if [[ "$senders" -le 0 ]]; then
    changes+=("max_wal_senders = 10")
  fi
  if [[ "$slots" -le 0 ]]; then
    changes+=("max_replication_slots = 10")
  fi
  if [[ ${#changes[@]} -gt 0 ]]; then
    local c
    for c in "${changes[@]}"; do
      log "primary: ALTER SYSTEM SET $c"
      primary_sql "ALTER SYSTEM SET $c" >/dev/null
    done
    warn "restarting primary $PGV/$PRIMARY_CLUSTER so the new settings take effect"
    mark_log "$PGV" "$PRIMARY_CLUSTER"
    ctl "$PGV" "$PRIMARY_CLUSTER" restart || { show_log_tail "$PGV" "$PRIMARY_CLUSTER"; die "primary restart failed"; }
    ensure_primary_up
  fi
  log "primary: wal_level=$(primary_sql 'show wal_level') max_wal_senders=$(primary_sql 'show max_wal_senders') max_replication_slots=$(primary_sql 'show max_replication_slots')"
}

ensure_primary_hba() {
  local hba tmp line="host replication all 127.0.0.1/32 trust"
  hba="$(primary_sql 'show hba_file')"
  [[ -f "$hba" ]] || die "primary hba_file $hba not found"
  if grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust([[:space:]]|$)' "$hba"; then
    log "primary: $hba already allows replication from 127.0.0.1"
  else
    log "primary: adding '$line' to $hba and reloading"
    tmp="$(mktemp)"
    # Insert before the first rule so no earlier replication rule can shadow it
    # (pg_hba is first-match). Rewrite in place to keep owner/mode of the file.
    awk -v line="$line" '
      !done && $0 !~ /^[[:space:]]*(#|$)/ { print "# added by scripts/replica/start-replica.sh"; print line; done = 1 }
      { print }
      END { if (!done) { print "# added by scripts/replica/start-replica.sh"; print line } }
    ' "$hba" >"$tmp"
    cat "$tmp" >"$hba"
    rm -f "$tmp"
    primary_sql 'select pg_reload_conf()' >/dev/null
    sleep 0.5
  fi
  local errors
  errors="$(primary_sql "select count(*) from pg_hba_file_rules where error is not null")"
  [[ "$errors" == 0 ]] || warn "primary pg_hba_file_rules reports $errors error(s): see select * from pg_hba_file_rules"
  # Prove a physical replication connection is accepted.
  if ! psql -X -q -At "host=$PRIMARY_HOST port=$PRIMARY_PORT user=$PG_SUPERUSER dbname=postgres replication=true" \
      -c 'IDENTIFY_SYSTEM' >/dev/null 2>&1; then
    die "primary refuses replication connections from $PRIMARY_HOST (check $hba: an earlier rule may shadow '$line')"
  fi
}

ensure_primary_up
ensure_primary_settings
ensure_primary_hba

# --------------------------------------------------------------------------
# 3. Replica cluster: create or reuse, write its config.
# --------------------------------------------------------------------------
other="$(other_cluster_on_port "$PGV" "$REPLICA_CLUSTER" "$REPLICA_PORT")"
[[ -z "$other" ]] || die "port $REPLICA_PORT is already configured for cluster(s): $other; refusing to reuse it"

if cluster_exists "$PGV" "$REPLICA_CLUSTER"; then
  log "reusing existing cluster $PGV/$REPLICA_CLUSTER"
else
  log "creating cluster $PGV/$REPLICA_CLUSTER on port $REPLICA_PORT"
  pg_createcluster "$PGV" "$REPLICA_CLUSTER" -p "$REPLICA_PORT" 9>&- >&2
fi
[[ -d "$REPLICA_CONF_DIR" ]] || die "config directory $REPLICA_CONF_DIR missing after pg_createcluster"

DATADIR="$(pg_conftool -s "$PGV" "$REPLICA_CLUSTER" show data_directory)"
PRIMARY_DATADIR="$(primary_sql 'show data_directory')"
case "$DATADIR" in
  ""|/|/var|/var/lib|/var/lib/postgresql|"/var/lib/postgresql/$PGV") die "refusing to use suspicious replica data_directory '$DATADIR'" ;;
  /*) ;;
  *) die "replica data_directory '$DATADIR' is not absolute" ;;
esac
[[ "$(realpath -m "$DATADIR")" != "$(realpath -m "$PRIMARY_DATADIR")" ]] || die "replica data_directory equals the primary's ($DATADIR)"

write_replica_config() {
  # Our settings go into a marked block at the end of the cluster's own
  # postgresql.conf (after its include_dir 'conf.d', so they win), which means
  # `pg_dropcluster` removes them with the cluster and leaves nothing behind.
  local conf="$REPLICA_CONF_DIR/postgresql.conf" tmp block
  [[ -f "$conf" ]] || die "$conf not found"
  block="$(
    echo "$CONF_BEGIN"
    echo "# Rewritten on every run of start-replica.sh that (re)starts the replica."
    echo "port = $REPLICA_PORT"
    echo "listen_addresses = '127.0.0.1'"
    echo "hot_standby = on"
    echo "hot_standby_feedback = on"
    echo "hba_file = '$REPLICA_CONF_DIR/pg_hba.conf'"
    echo "# A hot standby refuses to start unless these are >= the primary's values:"
    primary_sql "select name || ' = ' || setting from pg_settings
        where name in ('max_connections','max_worker_processes','max_wal_senders',
                       'max_prepared_transactions','max_locks_per_transaction')
        order by name"
    echo "$CONF_END"
  )"
  tmp="$(mktemp)"
  awk -v b="$CONF_BEGIN" -v e="$CONF_END" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' "$conf" >"$tmp"
  printf '%s\n' "$block" >>"$tmp"
  cat "$tmp" >"$conf"   # in place: keeps owner and mode
  rm -f "$tmp"

  cat >"$REPLICA_CONF_DIR/pg_hba.conf" <<EOF
# Managed by scripts/replica/start-replica.sh -- local development replica only.
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
EOF
  chown "$PG_OS_USER:$PG_OS_USER" "$REPLICA_CONF_DIR/pg_hba.conf"
  chmod 0640 "$REPLICA_CONF_DIR/pg_hba.conf"
}

# ALTER SYSTEM settings of the primary are copied by pg_basebackup into
# postgresql.auto.conf, which is read last and would override the settings
# above; drop the ones we own.
scrub_auto_conf() {
  local auto="$DATADIR/postgresql.auto.conf"
  if [[ -f "$auto" ]] && grep -Eq '^[[:space:]]*(port|listen_addresses|hot_standby)[[:space:]]*=' "$auto"; then
    as_pg sed -i -E '/^[[:space:]]*(port|listen_addresses|hot_standby)[[:space:]]*=/d' "$auto"
  fi
}

stop_replica_cluster() {
  if cluster_online "$PGV" "$REPLICA_CLUSTER"; then
    log "stopping cluster $PGV/$REPLICA_CLUSTER"
    ctl "$PGV" "$REPLICA_CLUSTER" stop -m fast || ctl "$PGV" "$REPLICA_CLUSTER" stop -m immediate
  fi
}

start_replica_cluster() {
  log "starting cluster $PGV/$REPLICA_CLUSTER"
  mark_log "$PGV" "$REPLICA_CLUSTER"
  ctl "$PGV" "$REPLICA_CLUSTER" start   # prints the server's error itself on failure
}

write_replica_config

# --------------------------------------------------------------------------
# 4a. Resume: an intact standby data directory just needs starting.
# --------------------------------------------------------------------------
if [[ "$REBUILD" != 1 && -f "$DATADIR/PG_VERSION" && -f "$DATADIR/standby.signal" ]]; then
  log "found existing standby data in $DATADIR; trying to resume streaming"
  scrub_auto_conf
  resumed=0
  if cluster_online "$PGV" "$REPLICA_CLUSTER"; then
    mark_log "$PGV" "$REPLICA_CLUSTER"
    ctl "$PGV" "$REPLICA_CLUSTER" restart && resumed=1 || true
  else
    start_replica_cluster && resumed=1 || true
  fi
  # A healthy standby streams within seconds of starting; don't wait the full
  # timeout for one that can't (e.g. primary was re-initialised) -- rebuild it.
  resume_timeout=$(( REPLICA_TIMEOUT < 30 ? REPLICA_TIMEOUT : 30 ))
  if [[ "$resumed" == 1 ]] && wait_for_replica "$resume_timeout"; then
    log "replica resumed streaming"
    report
    exit 0
  fi
  if [[ "$resumed" == 1 ]]; then
    show_log_tail "$PGV" "$REPLICA_CLUSTER"
    warn "could not resume existing replica ($WAIT_REASON); rebuilding from a fresh base backup"
  else
    warn "could not start existing replica; rebuilding from a fresh base backup"
  fi
fi

# --------------------------------------------------------------------------
# 4b. Rebuild: wipe, pg_basebackup, start.
# --------------------------------------------------------------------------
stop_replica_cluster

# A fresh backup gets a fresh slot; drop the old one once its walsender is gone.
deadline=$((SECONDS + 15))
while :; do
  slot_active="$(primary_sql "select active from pg_replication_slots where slot_name = '$REPLICA_SLOT'")"
  [[ "$slot_active" == t ]] || break
  [[ $SECONDS -lt $deadline ]] || die "replication slot $REPLICA_SLOT on the primary is in use by another standby; set REPLICA_SLOT to a different name"
  sleep 0.5
done
if [[ "$slot_active" == f ]]; then
  log "primary: dropping stale replication slot $REPLICA_SLOT"
  primary_sql "select pg_drop_replication_slot('$REPLICA_SLOT')" >/dev/null
fi

log "wiping $DATADIR"
rm -rf -- "$DATADIR"
mkdir -p -- "$DATADIR"
chown "$PG_OS_USER:$PG_OS_USER" "$DATADIR"
chmod 0700 "$DATADIR"

log "pg_basebackup from $PRIMARY_HOST:$PRIMARY_PORT into $DATADIR (slot $REPLICA_SLOT)"
as_pg pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U "$PG_SUPERUSER" -D "$DATADIR" \
  -R -X stream -C -S "$REPLICA_SLOT" -c fast 9>&- \
  || die "pg_basebackup failed"
[[ -f "$DATADIR/standby.signal" ]] || die "pg_basebackup -R did not create standby.signal"
scrub_auto_conf

start_replica_cluster || die "could not start replica cluster $PGV/$REPLICA_CLUSTER"

log "waiting up to ${REPLICA_TIMEOUT}s for 127.0.0.1:$REPLICA_PORT to accept connections and stream"
if ! wait_for_replica "$REPLICA_TIMEOUT"; then
  show_log_tail "$PGV" "$REPLICA_CLUSTER"
  die "replica did not become ready within ${REPLICA_TIMEOUT}s: $WAIT_REASON"
fi
log "replica is up and streaming"
report
