#!/usr/bin/env bash
# Smoke-test the local replica set up by start-replica.sh:
#   1. a table created on the primary shows up on the replica (timed)
#   2. pg_wal_replay_pause(): primary insert NOT visible; resume: visible
#   3. CREATE DATABASE ... TEMPLATE ... replicates
#   4. stop + start of the replica cluster: it resumes streaming
#   5. replay lag (now() - pg_last_xact_replay_timestamp()) right after a commit
# Leaves the replica RUNNING. Creates and drops the table replica_smoke and the
# databases replica_smoke_tpl / replica_smoke_copy on the primary.
#
# Usage: sudo scripts/replica/verify-replica.sh
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/replica/_common.sh
source "$SCRIPT_DIR/_common.sh"

PGV="$(detect_pg_major)"
fail() { printf '[verify] FAIL: %s\n' "$*" >&2; exit 1; }
ok()   { printf '[verify] ok: %s\n' "$*" >&2; }
now_ms() { date +%s%3N; }

# wait_until TIMEOUT_MS SQL_ON_REPLICA EXPECTED [DB] -> prints elapsed ms
wait_until() {
  local timeout="$1" sql="$2" want="$3" db="${4:-postgres}" start got
  start="$(now_ms)"
  while :; do
    got="$(psql -X -q -At -h 127.0.0.1 -p "$REPLICA_PORT" -U "$PG_SUPERUSER" -d "$db" -c "$sql" 2>/dev/null || true)"
    [[ "$got" == "$want" ]] && { echo $(( $(now_ms) - start )); return 0; }
    (( $(now_ms) - start > timeout )) && return 1
    sleep 0.02
  done
}

[[ "$(replica_sql 'select pg_is_in_recovery()')" == t ]] || fail "127.0.0.1:$REPLICA_PORT is not a running replica (run start-replica.sh)"

cleanup() {
  replica_sql 'select pg_wal_replay_resume()' >/dev/null 2>&1 || true
  primary_sql 'drop table if exists replica_smoke' >/dev/null 2>&1 || true
  primary_sql 'drop database if exists replica_smoke_copy' >/dev/null 2>&1 || true
  primary_sql 'drop database if exists replica_smoke_tpl' >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# 1. visibility
primary_sql "create table replica_smoke(id int primary key, note text); insert into replica_smoke values (1, 'first')" >/dev/null
ms="$(wait_until 1000 'select count(*) from replica_smoke' 1)" || fail "table not visible on replica within 1s"
ok "table created on primary visible on replica after ${ms}ms"

# 2. pause / resume
replica_sql 'select pg_wal_replay_pause()' >/dev/null
wait_until 2000 'select pg_get_wal_replay_pause_state()' paused >/dev/null || fail "replay did not pause"
primary_sql "insert into replica_smoke values (2, 'while paused')" >/dev/null
sleep 1.5
n="$(replica_sql 'select count(*) from replica_smoke')"
[[ "$n" == 1 ]] || fail "row inserted while paused is visible on replica (count=$n)"
ok "replay paused: replica still sees 1 row 1.5s after the primary committed a 2nd"
replica_sql 'select pg_wal_replay_resume()' >/dev/null
ms="$(wait_until 1000 'select count(*) from replica_smoke' 2)" || fail "row not visible within 1s after pg_wal_replay_resume()"
ok "after pg_wal_replay_resume() the row is visible after ${ms}ms"

# 3. CREATE DATABASE ... TEMPLATE
primary_sql 'create database replica_smoke_tpl' >/dev/null
psql -X -q -At -h 127.0.0.1 -p "$PRIMARY_PORT" -U "$PG_SUPERUSER" -d replica_smoke_tpl \
  -c 'create table t(x int); insert into t values (42)' >/dev/null
primary_sql 'create database replica_smoke_copy template replica_smoke_tpl' >/dev/null
ms="$(wait_until 5000 'select x from t' 42 replica_smoke_copy)" || fail "database created from template not readable on replica within 5s"
ok "CREATE DATABASE ... TEMPLATE replicated; data readable on replica after ${ms}ms"

# 4. stop / start
ctl "$PGV" "$REPLICA_CLUSTER" stop -m fast
primary_sql "insert into replica_smoke values (3, 'while replica stopped')" >/dev/null
ctl "$PGV" "$REPLICA_CLUSTER" start
ms="$(wait_until 10000 'select count(*) from replica_smoke' 3)" || fail "replica did not catch up within 10s after restart"
status="$(replica_sql "select coalesce((select status from pg_stat_wal_receiver), 'none')")"
[[ "$status" == streaming ]] || fail "WAL receiver status after restart: $status"
ok "stop + start: replica caught up ${ms}ms after start and is $status"

# 5. lag
primary_sql "insert into replica_smoke values (4, 'lag probe')" >/dev/null
wait_until 1000 'select count(*) from replica_smoke' 4 >/dev/null || fail "lag probe row not replicated within 1s"
lag="$(replica_sql 'select now() - pg_last_xact_replay_timestamp()')"
ok "replay lag right after a commit: $lag"
ok "pg_stat_replication on primary: $(primary_sql "select application_name || ' ' || state || ' ' || sync_state || ' replay_lag=' || coalesce(replay_lag::text, 'n/a') from pg_stat_replication")"
echo "[verify] all checks passed; replica left running" >&2
