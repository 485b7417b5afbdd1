import { join } from 'node:path';

export interface BaselineNginxConf {
  /** The private run directory (`nginx -p`); every file nginx writes lives under it. */
  prefix: string;
  listenPort: number;
  upstreamPort: number;
}

export const NGINX_TEMP_DIRS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'] as const;

/**
 * A minimal nginx.conf in front of the baseline "hello" server that mirrors the keyflow gateway's proxy settings
 * (apps/gateway-config/src/templates/nginx.conf.hbs): one worker, upstream keep-alive of 64 connections, HTTP/1.1
 * to the upstream with the Connection header cleared, the same forwarded headers, request buffering, no access
 * log. What it leaves out — problem+json error pages and the write/retry routing — costs nothing on the GET path.
 */
export function renderBaselineNginxConf({ prefix, listenPort, upstreamPort }: BaselineNginxConf): string {
  const tempPaths = NGINX_TEMP_DIRS.map((dir) => `    ${dir}_temp_path ${join(prefix, 'tmp', dir)};`).join('\n');
  return `# Baseline proxy for the keyflow load runner: bare Fastify behind nginx with the gateway's proxy settings.
# Started by load-tests/runner: nginx -p ${prefix} -c ${join(prefix, 'nginx.conf')} -e ${join(prefix, 'error.log')}

daemon on;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;

events {
    worker_connections 4096;
}

http {
    server_tokens off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    access_log off;
    client_max_body_size 2m;

${tempPaths}

    upstream baseline_hello {
        server 127.0.0.1:${upstreamPort};
        keepalive 64;
        keepalive_timeout 30s;
    }

    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Request-Id $request_id;
    proxy_set_header X-Real-IP $remote_addr;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_hide_header X-Request-Id;
    proxy_connect_timeout 2s;
    proxy_send_timeout 65s;
    proxy_read_timeout 65s;
    proxy_request_buffering on;

    server {
        listen 127.0.0.1:${listenPort};
        add_header X-Request-Id $request_id always;

        location / {
            proxy_pass http://baseline_hello;
        }
    }
}
`;
}
