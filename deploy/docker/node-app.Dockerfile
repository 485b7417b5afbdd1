# syntax=docker/dockerfile:1
# One image recipe for keyflow's Node apps, shipping only compiled JavaScript. Build from the repository root (the
# Compose file does this for you):
#   docker build -f deploy/docker/node-app.Dockerfile --build-arg APP=api -t keyflow-api .
#   docker build -f deploy/docker/node-app.Dockerfile --build-arg APP=worker -t keyflow-worker .
# APP names a project under apps/ (api, worker, gateway-config). `nx run <APP>:build` compiles it with tsc
# (decorator metadata included) into dist/apps/<APP>/, keeping the repository layout: the app under
# apps/<APP>/src/, the libs it imports under libs/*/src/ (path aliases rewritten to relative requires) and
# libs/db's .sql migrations beside the compiled migration code. The image holds that output and the production
# dependencies only: no TypeScript, no SWC, no Nx, no sources.
ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: all dependencies (Nx, TypeScript, the path transformer), the sources, then the app's build target.
#    No install scripts are needed here: nothing this stage runs loads a native addon that needs compiling.
FROM ${NODE_IMAGE} AS build
WORKDIR /repo
COPY package.json package-lock.json ./
# npm 11 may call a lock file without other platforms' optional packages out of sync; install the same
# locked versions without rewriting it in that case.
RUN npm ci --ignore-scripts --no-audit --no-fund \
    || npm install --no-save --ignore-scripts --no-audit --no-fund
COPY nx.json tsconfig.base.json ./
COPY libs ./libs
COPY apps ./apps
ARG APP
RUN test -n "${APP}" && test -f "apps/${APP}/project.json" \
    && NX_DAEMON=false NX_NO_CLOUD=true npx nx run "${APP}:build" --skip-nx-cache \
    && test -f "dist/apps/${APP}/apps/${APP}/src/main.js" \
    && ln -s "apps/${APP}/src/main.js" "dist/apps/${APP}/main.js"

# 2. Production dependencies only, from the same lock file, WITH install scripts: argon2's install script
#    (node-gyp-build) compiles its native binding for this image's Node. Its bundled linux-x64 prebuild (0.45.1)
#    crashes Node 20 with a segmentation fault as it loads, and `--ignore-scripts` would leave only that prebuild.
#    Building from source is forced so the result does not depend on that crash being detected; the last step
#    loads the binding, so an image whose argon2 cannot hash fails here rather than at the first login.
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ make python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local \
    SCARF_ANALYTICS=false
RUN (npm ci --omit=dev --no-audit --no-fund \
      || npm install --no-save --omit=dev --no-audit --no-fund) \
    && node -e "require('argon2').hash('probe').then(() => console.log('argon2 binding loads'))" \
    && rm -rf node_modules/argon2/build/Release/obj.target node_modules/argon2/prebuilds \
    && npm cache clean --force

# 3. Runtime: compiled output and production node_modules, no sources, no npm cache; run as the node user.
FROM ${NODE_IMAGE} AS runtime
ARG APP
ENV NODE_ENV=production \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /repo/dist/apps/${APP} ./
USER node
# The apps drain and close their connections on SIGTERM. Other entries of the same build run the same way, e.g.
# the worker's migrations: `docker run --rm -e DATABASE_URL=… keyflow-worker node apps/worker/src/migrate.js`.
STOPSIGNAL SIGTERM
CMD ["node", "main.js"]
