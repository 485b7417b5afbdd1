# syntax=docker/dockerfile:1
# keyflow api image. Build from the repository root (the Compose file does this for you):
#   docker build -f deploy/docker/api.Dockerfile -t keyflow-api .
#
# The apps run exactly as the local stack runs them: `node -r @swc-node/register apps/api/src/main.ts`, SWC
# compiling the TypeScript as it loads (cached under /tmp). So the image holds the production dependencies, the
# sources, and the loader (@swc-node/register, @swc/core, typescript at the versions in package-lock.json) in a
# directory of its own, found through NODE_PATH, so the app's dependency tree stays production-only.
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: production dependencies from the lock file, then the sources the api needs.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm 11 may call a lock file without other platforms' optional packages out of sync; install the same
# locked versions without rewriting it in that case.
RUN (npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      || npm install --no-save --omit=dev --ignore-scripts --no-audit --no-fund) \
    && npm cache clean --force
COPY tsconfig.json tsconfig.base.json ./
COPY libs ./libs
COPY apps/api ./apps/api

# 2. Loader: the TypeScript loader, pinned to package-lock.json's versions.
FROM ${NODE_IMAGE} AS loader
WORKDIR /opt/keyflow-loader
COPY package-lock.json /tmp/package-lock.json
RUN set -eu; \
    locked() { node -p "require('/tmp/package-lock.json').packages['node_modules/$1'].version"; }; \
    npm init -y >/dev/null; \
    npm install --no-audit --no-fund \
      "@swc-node/register@$(locked @swc-node/register)" "@swc/core@$(locked @swc/core)" "typescript@$(locked typescript)"; \
    npm cache clean --force

# 3. Runtime: no npm cache, no build context, files owned by root and run as the unprivileged node user.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NODE_PATH=/opt/keyflow-loader/node_modules \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=loader /opt/keyflow-loader/node_modules /opt/keyflow-loader/node_modules
COPY --from=build /app /app
USER node
EXPOSE 3000
# The api drains and closes its connections on SIGTERM.
STOPSIGNAL SIGTERM
CMD ["node", "-r", "@swc-node/register", "apps/api/src/main.ts"]
