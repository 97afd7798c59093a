# syntax=docker/dockerfile:1
#
# The Tessera server (`tessera start`), built from this repository:
#
#   docker build -t tessera .
#   docker run -p 4000:4000 -v tessera-data:/data \
#     -e TESSERA_ISSUER=https://auth.example.com -e TESSERA_SECRET="$(openssl rand -base64 48)" tessera
#
# Three stages: `build` compiles the workspace and packs @tessera/verify and @tessera/server as they
# are published; `deps` installs those two tarballs with their production dependencies only (and
# compiles better-sqlite3 there, where the compilers are); `runtime` is a slim Node image with
# that node_modules and nothing else, run as the unprivileged `node` user.
# See packages/server/README.md, "Operations: container, ports, timeouts, metrics".

ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
  && npm run build \
  && mkdir /pkgs \
  && npm pack --pack-destination /pkgs -w @tessera/verify -w @tessera/server \
  && node -p "require('./packages/server/package.json').optionalDependencies.pg" > /pkgs/pg-version

FROM node:${NODE_VERSION}-bookworm AS deps
# `--build-arg SQLITE=false`: a PostgreSQL-only image, without better-sqlite3's native addon.
ARG SQLITE=true
WORKDIR /app
COPY --from=build /pkgs/ /pkgs/
RUN echo '{ "name": "tessera-image", "private": true, "type": "module" }' > package.json \
  && if [ "$SQLITE" = "true" ]; then \
       npm install --omit=dev --no-audit --no-fund /pkgs/tessera-verify-*.tgz /pkgs/tessera-server-*.tgz; \
     else \
       npm install --omit=dev --omit=optional --no-audit --no-fund \
         /pkgs/tessera-verify-*.tgz /pkgs/tessera-server-*.tgz "pg@$(cat /pkgs/pg-version)"; \
     fi \
  && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    TESSERA_HOST=0.0.0.0
COPY --from=deps /app /app
# /data is the working directory: without a database setting, SQLite lives in
# /data/.tessera/tessera.db, on the volume. The code in /app stays owned by root, read-only to
# the server.
RUN mkdir /data && chown node:node /data
WORKDIR /data
VOLUME ["/data"]
USER node
# 4000: the public listener (OAuth, OpenID Connect, sign-in, account API, /healthz, /readyz).
# 4001: the internal listener when admin.port (and metrics.port) is 4001: the Admin API, the
# admin console and /metrics. Publish 4000 only; keep 4001 on the internal network.
EXPOSE 4000 4001
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TESSERA_PORT || process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/node_modules/@tessera/server/dist/bin/tessera.js"]
CMD ["start"]
