# syntax=docker/dockerfile:1
# The nginx gateway with the web console (apps/console) built in. Build from the repository root (the Compose file
# does this for you):
#   docker build -f deploy/docker/gateway.Dockerfile -t keyflow-gateway .
# The gateway's config is not in the image: it is rendered from the topology and mounted at /etc/keyflow (Compose:
# deploy/compose/config; Kubernetes: the keyflow-gateway-config ConfigMap). The topology's gateway.consoleRoot names
# where the console's files are here: /usr/share/keyflow/console.
ARG NODE_IMAGE=node:20-bookworm-slim
ARG NGINX_IMAGE=nginx:1.26

# 1. Build the console with Vite (`nx run console:build`): index.html and content-hashed assets, nothing else.
FROM ${NODE_IMAGE} AS build
WORKDIR /repo
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund \
    || npm install --no-save --ignore-scripts --no-audit --no-fund
COPY nx.json tsconfig.base.json ./
COPY libs ./libs
COPY apps ./apps
RUN NX_DAEMON=false NX_NO_CLOUD=true npx nx run console:build --skip-nx-cache \
    && test -f dist/apps/console/index.html

# 2. nginx and the static files only.
FROM ${NGINX_IMAGE} AS runtime
COPY --from=build /repo/dist/apps/console /usr/share/keyflow/console
