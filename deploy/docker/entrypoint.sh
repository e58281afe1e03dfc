#!/bin/sh
# Container entrypoint for every process of the image (api, worker, migrate, create-staff).
#
# The application reads its connections as whole URLs (DATABASE_URL, DATABASE_REPLICA_URLS,
# REDIS_URL). Where a platform hands over the parts instead - on ECS the host names are plain
# environment and the password / auth token arrive as separate Secrets Manager secrets - this
# script assembles the URLs, percent-encoding the credentials, and then execs the command.
# A URL that is already set is never touched, so `docker run -e DATABASE_URL=...` and
# compose work unchanged.
#
#   DATABASE_HOST, DATABASE_PORT (5432), DATABASE_NAME, DATABASE_USER, DATABASE_PASSWORD,
#   DATABASE_READER_HOST (optional, becomes DATABASE_REPLICA_URLS),
#   DATABASE_URL_PARAMS (default: sslmode=verify-full&sslrootcert=/app/certs/rds-global-bundle.pem)
#   REDIS_HOST, REDIS_PORT (6379), REDIS_AUTH_TOKEN (optional), REDIS_TLS (true),
#   REDIS_USERNAME (optional: an ACL user, as on MemoryDB; without it the token is the default user's)
set -eu

urlencode() {
  # Through node so any character of a generated password survives; the value travels in the
  # environment, not on a command line.
  VALUE="$1" node -e 'process.stdout.write(encodeURIComponent(process.env.VALUE))'
}

if [ -z "${DATABASE_URL:-}" ] && [ -n "${DATABASE_HOST:-}" ]; then
  : "${DATABASE_USER:?DATABASE_USER is required with DATABASE_HOST}"
  : "${DATABASE_PASSWORD:?DATABASE_PASSWORD is required with DATABASE_HOST}"
  : "${DATABASE_NAME:?DATABASE_NAME is required with DATABASE_HOST}"
  db_auth="$(urlencode "$DATABASE_USER"):$(urlencode "$DATABASE_PASSWORD")"
  db_tail="${DATABASE_PORT:-5432}/$(urlencode "$DATABASE_NAME")?${DATABASE_URL_PARAMS:-sslmode=verify-full&sslrootcert=/app/certs/rds-global-bundle.pem}"
  DATABASE_URL="postgres://${db_auth}@${DATABASE_HOST}:${db_tail}"
  export DATABASE_URL
  if [ -z "${DATABASE_REPLICA_URLS:-}" ] && [ -n "${DATABASE_READER_HOST:-}" ]; then
    DATABASE_REPLICA_URLS="postgres://${db_auth}@${DATABASE_READER_HOST}:${db_tail}"
    export DATABASE_REPLICA_URLS
  fi
fi
unset DATABASE_PASSWORD

if [ -z "${REDIS_URL:-}" ] && [ -n "${REDIS_HOST:-}" ]; then
  scheme=rediss
  [ "${REDIS_TLS:-true}" = "false" ] && scheme=redis
  redis_auth=""
  [ -n "${REDIS_AUTH_TOKEN:-}" ] && redis_auth="$(urlencode "${REDIS_USERNAME:-}"):$(urlencode "$REDIS_AUTH_TOKEN")@"
  REDIS_URL="${scheme}://${redis_auth}${REDIS_HOST}:${REDIS_PORT:-6379}"
  export REDIS_URL
fi
unset REDIS_AUTH_TOKEN

exec "$@"
