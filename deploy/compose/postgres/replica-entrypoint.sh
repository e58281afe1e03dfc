#!/bin/bash
# Entrypoint of the streaming replica (official postgres image, started as root).
# Until the data directory holds a complete clone it (re)clones the primary with
# pg_basebackup -R, which writes standby.signal, primary_conninfo and primary_slot_name last;
# afterwards the official entrypoint simply starts the server as a hot standby. standby.signal is
# the completion marker: a clone interrupted half-way is wiped and taken again. (This stack never
# promotes the replica; a promoted one would lose standby.signal and be re-cloned.)
set -euo pipefail
: "${PRIMARY_HOST:?}"
: "${PRIMARY_PORT:=5432}"
: "${POSTGRES_REPLICATION_USER:?}"
: "${POSTGRES_REPLICATION_PASSWORD:?}"
: "${POSTGRES_REPLICATION_SLOT:=replica_1}"
PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ ! -f "$PGDATA/standby.signal" ]; then
  echo "replica: cloning ${PRIMARY_HOST}:${PRIMARY_PORT} into $PGDATA"
  mkdir -p "$PGDATA"
  find "$PGDATA" -mindepth 1 -delete
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  export PGPASSWORD="$POSTGRES_REPLICATION_PASSWORD"
  until gosu postgres pg_isready -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -q; do
    echo "replica: waiting for the primary"
    sleep 1
  done
  gosu postgres pg_basebackup \
    --host="$PRIMARY_HOST" --port="$PRIMARY_PORT" --username="$POSTGRES_REPLICATION_USER" \
    --pgdata="$PGDATA" --wal-method=stream --slot="$POSTGRES_REPLICATION_SLOT" \
    --write-recovery-conf --checkpoint=fast --progress --no-password
  unset PGPASSWORD
fi

exec docker-entrypoint.sh "$@"
