# shellcheck shell=bash
# Shared helpers for scripts/replica/*.sh. Sourced, not executed.
#
# Environment overrides (all optional):
#   PG_MAJOR          PostgreSQL major version (default: detected from /etc/postgresql)
#   PRIMARY_HOST      primary host             (default 127.0.0.1)
#   PRIMARY_PORT      primary port             (default 5432)
#   PRIMARY_CLUSTER   Debian cluster name of the primary (default main)
#   REPLICA_PORT      replica port             (default 5433)
#   REPLICA_CLUSTER   Debian cluster name of the replica (default replica)
#   REPLICA_SLOT      physical replication slot used by the replica (default replica_<port>)
#   REPLICA_TIMEOUT   seconds to wait for the replica to come up (default 60)

PRIMARY_HOST="${PRIMARY_HOST:-127.0.0.1}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
PRIMARY_CLUSTER="${PRIMARY_CLUSTER:-main}"
REPLICA_HOST="127.0.0.1"
REPLICA_PORT="${REPLICA_PORT:-5433}"
REPLICA_CLUSTER="${REPLICA_CLUSTER:-replica}"
REPLICA_SLOT="${REPLICA_SLOT:-replica_${REPLICA_PORT}}"
REPLICA_TIMEOUT="${REPLICA_TIMEOUT:-60}"
PG_SUPERUSER="postgres"
PG_OS_USER="postgres"

export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-3}"

log()  { printf '[replica] %s\n' "$*" >&2; }
warn() { printf '[replica] WARNING: %s\n' "$*" >&2; }
die()  { printf '[replica] ERROR: %s\n' "$*" >&2; exit 1; }

# Major version: from $PG_MAJOR, else from `ls /etc/postgresql` (numeric entries;
# prefer ones that contain the primary cluster, highest version wins).
detect_pg_major() {
  if [[ -n "${PG_MAJOR:-}" ]]; then
    printf '%s\n' "$PG_MAJOR"
    return
  fi
  [[ -d /etc/postgresql ]] || die "/etc/postgresql not found: is the Debian postgresql package installed?"
  local versions with_primary
  versions="$(ls /etc/postgresql | grep -E '^[0-9]+(\.[0-9]+)?$' | sort -V || true)"
  [[ -n "$versions" ]] || die "no PostgreSQL version directory found in /etc/postgresql"
  with_primary="$(for v in $versions; do [[ -d "/etc/postgresql/$v/$PRIMARY_CLUSTER" ]] && echo "$v"; done || true)"
  if [[ -n "$with_primary" ]]; then
    printf '%s\n' "$with_primary" | tail -n1
  else
    printf '%s\n' "$versions" | tail -n1
  fi
}

# Run a command as the postgres OS user (works whether we are root or postgres).
as_pg() {
  if [[ "$(id -un)" == "$PG_OS_USER" ]]; then
    "$@"
  else
    runuser -u "$PG_OS_USER" -- "$@"
  fi
}

# psql_at PORT SQL  -> unaligned, tuples-only output; non-zero exit on failure.
psql_at() {
  local port="$1"; shift
  psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" -d postgres -c "$1"
}

primary_sql() { psql_at "$PRIMARY_PORT" "$1"; }
replica_sql() { psql_at "$REPLICA_PORT" "$1"; }

# Exit status of pg_isready: 0 accepting, 1 rejecting (e.g. starting up), 2 no response, 3 bad params.
isready_rc() {
  local rc=0
  # -U/-d: avoid 'role "root" does not exist' noise in the server log.
  pg_isready -q -h 127.0.0.1 -p "$1" -U "$PG_SUPERUSER" -d postgres -t 3 || rc=$?
  printf '%s\n' "$rc"
}

cluster_exists() { # VERSION NAME
  pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v c="$2" '$1==v && $2==c {found=1} END {exit !found}'
}

cluster_online() { # VERSION NAME
  pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v c="$2" '$1==v && $2==c && $4 ~ /^online/ {found=1} END {exit !found}'
}

# Prints "version cluster" of any cluster (other than the given one) configured on PORT.
other_cluster_on_port() { # VERSION NAME PORT
  pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v c="$2" -v p="$3" '$3==p && !($1==v && $2==c) {print $1" "$2}'
}

ctl() { # VERSION NAME ACTION [args...]
  local v="$1" c="$2" a="$3"; shift 3
  # 9>&-: never leak the start-replica.sh lock fd into a long-running postmaster.
  pg_ctlcluster --skip-systemctl-redirect "$v" "$c" "$a" "$@" 9>&-
}

cluster_logfile() { # VERSION NAME
  pg_lsclusters -h 2>/dev/null | awk -v v="$1" -v c="$2" '$1==v && $2==c {print $7}'
}

# Remember where the cluster log ends now, so show_log_tail prints only new lines.
mark_log() { # VERSION NAME
  local f
  f="$(cluster_logfile "$1" "$2")"
  LOG_MARK=0
  if [[ -n "$f" && -r "$f" ]]; then LOG_MARK="$(stat -c %s "$f")"; fi
}

show_log_tail() { # VERSION NAME
  local f
  f="$(cluster_logfile "$1" "$2")"
  if [[ -n "$f" && -r "$f" ]]; then
    printf '[replica] ---- %s (recent lines) ----\n' "$f" >&2
    tail -c +"$(( ${LOG_MARK:-0} + 1 ))" "$f" | tail -n 25 >&2 || true
    printf '[replica] ----\n' >&2
  fi
}
