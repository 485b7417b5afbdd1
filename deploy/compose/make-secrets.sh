#!/bin/sh
# Makes deploy/compose/.env: every password the Compose deployment needs, random, readable by its owner only.
# Compose reads the file by itself (docker compose -f deploy/compose/docker-compose.yml …); it is never in git.
# Run it once; it refuses to overwrite an existing file (the servers' data holds the passwords it made).
set -eu
out="$(dirname "$0")/.env"
if [ -e "$out" ]; then
  echo "$out exists: keeping it (delete it, and the volumes, to start over)" >&2
  exit 1
fi
pw() { openssl rand -hex 24; }
umask 077
cat > "$out" <<EOT
KEYFLOW_REDIS_APP_PASSWORD=$(pw)
KEYFLOW_REDIS_ADMIN_PASSWORD=$(pw)
KEYFLOW_REDIS_REPLICA_PASSWORD=$(pw)
KEYFLOW_AMQP_PASSWORD=$(pw)
KEYFLOW_AMQP_ADMIN_PASSWORD=$(pw)
KEYFLOW_ERLANG_COOKIE=$(pw)
KEYFLOW_HAPROXY_STATS_PASSWORD=$(pw)
EOT
echo "wrote $out (mode 0600)"
