# syntax=docker/dockerfile:1.7
#
# One image for every process of opply-commerce:
#   api        node dist/src/server.js            (default CMD)
#   worker     node dist/src/worker.js
#   migrate    node dist/scripts/migrate.js
#   staff user node dist/scripts/create-staff.js --username NAME
#
# Build:  docker build -t opply-commerce:$(git rev-parse --short HEAD) .
# Runtime: Node 24 LTS, pinned to an exact release so a rebuild gets the same runtime (Dependabot
# proposes the next one). 24 rather than 22: 22 reaches end of life on 2027-04-30, 24 on
# 2028-04-30; CI runs every suite on both lines, and package.json's engines (>=22.15) is the floor.

ARG NODE_IMAGE=node:24.22.3-slim

# ---- build: full dependency tree, TypeScript -> dist/ ----------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build

# ---- deps: production dependencies only (no compiler, no test tools) -------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ---------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# Amazon RDS/Aurora root certificates, so the database connection can be verified
# (sslmode=verify-full&sslrootcert=/app/certs/rds-global-bundle.pem). Node's default CA store does
# not contain them. Override with --build-arg RDS_CA_BUNDLE_URL=... or point it at a local mirror.
ARG RDS_CA_BUNDLE_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
ENV NODE_ENV=production \
    PORT=8000 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app

COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# `npm run check:production`, `migrate` and `create-staff` go through this launcher, which runs
# the compiled dist/scripts/*.js where tsx is absent (as here).
COPY --chown=root:root scripts/run.mjs ./scripts/
COPY --chown=root:root migrations ./migrations
# The staff console's committed build, served at /admin/.
COPY --chown=root:root console/dist ./console/dist
COPY --chown=root:root --chmod=755 deploy/docker/entrypoint.sh deploy/docker/healthcheck.mjs ./deploy/docker/
ADD --chown=root:root --chmod=644 ${RDS_CA_BUNDLE_URL} /app/certs/rds-global-bundle.pem

# The code is owned by root and read-only for the process; only DATA_DIR (the embedded database,
# used when DATABASE_URL is unset) is writable. `node` (uid 1000) ships with the official image.
# The code finds migrations/ by walking up from its own file to the folder holding package.json
# beside migrations/ (src/platform/paths.ts): /app, for dist/src/*.js as for src/*.ts.
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 8000
# No curl in -slim: Node's own fetch does the probe. The worker overrides or disables this
# (it serves no HTTP); see compose.yaml and infra/.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]

# The entrypoint only assembles DATABASE_URL / DATABASE_REPLICA_URLS / REDIS_URL from their parts
# when they are not given whole (ECS injects the password and auth token as separate secrets),
# then execs the command, so node is PID 1's direct replacement and receives SIGTERM itself.
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["node", "dist/src/server.js"]
