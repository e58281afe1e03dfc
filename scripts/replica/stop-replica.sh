#!/usr/bin/env bash
# Stop the local streaming replica cluster (<major>/replica on 127.0.0.1:5433).
#
# The data directory, config and the primary's replication slot are kept, so
# `scripts/replica/start-replica.sh` (or
# `pg_ctlcluster --skip-systemctl-redirect <major> replica start`) resumes
# streaming where it stopped. While it is stopped the slot makes the primary
# keep WAL for it; use --drop if you do not intend to start it again.
#
# Usage: sudo scripts/replica/stop-replica.sh [--drop]
#   --drop   also delete the replica cluster (pg_dropcluster) and drop its
#            replication slot on the primary
#
# See docs/replica.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/replica/_common.sh
source "$SCRIPT_DIR/_common.sh"

DROP=0
for arg in "$@"; do
  case "$arg" in
    --drop) DROP=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument: $arg (see --help)" ;;
  esac
done

if [[ "$(id -u)" -ne 0 ]]; then
  die "run as root"
fi

PGV="$(detect_pg_major)"

if ! cluster_exists "$PGV" "$REPLICA_CLUSTER"; then
  log "cluster $PGV/$REPLICA_CLUSTER does not exist; nothing to stop"
else
  if cluster_online "$PGV" "$REPLICA_CLUSTER"; then
    log "stopping cluster $PGV/$REPLICA_CLUSTER"
    ctl "$PGV" "$REPLICA_CLUSTER" stop -m fast || ctl "$PGV" "$REPLICA_CLUSTER" stop -m immediate
  else
    log "cluster $PGV/$REPLICA_CLUSTER is already stopped"
  fi
  if [[ "$DROP" == 1 ]]; then
    log "dropping cluster $PGV/$REPLICA_CLUSTER"
    pg_dropcluster --stop "$PGV" "$REPLICA_CLUSTER"
  fi
fi

if [[ "$DROP" == 1 ]]; then
  if [[ "$(isready_rc "$PRIMARY_PORT")" == 0 ]]; then
    if [[ "$(primary_sql "select count(*) from pg_replication_slots where slot_name = '$REPLICA_SLOT'")" != 0 ]]; then
      # The walsender may take a moment to notice the standby is gone.
      deadline=$((SECONDS + 15))
      until [[ "$(primary_sql "select active from pg_replication_slots where slot_name = '$REPLICA_SLOT'")" != t ]]; do
        [[ $SECONDS -lt $deadline ]] || die "slot $REPLICA_SLOT is still active on the primary; not dropping it"
        sleep 0.5
      done
      log "primary: dropping replication slot $REPLICA_SLOT"
      primary_sql "select pg_drop_replication_slot('$REPLICA_SLOT')" >/dev/null
    fi
  else
    warn "primary 127.0.0.1:$PRIMARY_PORT is not up; drop slot $REPLICA_SLOT there later:"
    warn "  psql -h 127.0.0.1 -p $PRIMARY_PORT -U postgres -c \"select pg_drop_replication_slot('$REPLICA_SLOT')\""
  fi
fi
