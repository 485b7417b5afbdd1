/** Files `render` writes into the out dir. */
export const NGINX_CONF_FILE = 'nginx.conf';
export const HAPROXY_CFG_FILE = 'haproxy.cfg';
/** BIND9's config; the zone it serves is `zoneFile(dns.zone)` beside it. Rendered when the topology has `dns`. */
export const NAMED_CONF_FILE = 'named.conf';
export const PROMETHEUS_FILE = 'prometheus.yml';
/** keyflow's alert rules (deploy/monitoring/keyflow-alerts.yml), copied beside prometheus.yml with an Alertmanager. */
export const ALERT_RULES_FILE = 'keyflow-alerts.yml';
export const ALERTMANAGER_FILE = 'alertmanager.yml';

export function zoneFile(zone: string): string {
  return `${zone}.zone`;
}

/** The edge HAProxy pair's config (both peers run the same file), and the certificate with its key it serves. */
export const EDGE_CFG_FILE = 'haproxy-edge.cfg';
export const EDGE_PEM_FILE = 'edge.pem';

/** One keepalived config per edge peer (the stack runs each in the peer's network namespace). */
export function edgeKeepalivedFile(peer: string): string {
  return `keepalived-edge-${peer}.conf`;
}

/** One keepalived config per HAProxy peer: copy it to that host's /etc/keepalived/keepalived.conf. */
export function keepalivedFile(peer: string): string {
  return `keepalived-${peer}.conf`;
}

/** The certificate and key `render` generates into the out dir for `gateway.tls.mode: self-signed`. */
export const SELF_SIGNED_TLS = { cert: 'gateway.crt', key: 'gateway.key' } as const;

/** The certificate authority `render` creates beside the gateway certificate for `gateway.tls.mode: local-ca`. */
export const LOCAL_CA_TLS = { ca: 'ca.crt', caKey: 'ca.key' } as const;

/**
 * Files nginx and HAProxy create in the run dir at run time. The stack relies on these names
 * (pid files to stop them, the stats socket to drain servers), so treat them as an interface.
 */
export const RUN_FILES = {
  nginxPid: 'nginx.pid',
  nginxErrorLog: 'nginx-error.log',
  nginxAccessLog: 'nginx-access.log',
  haproxyPid: 'haproxy.pid',
  haproxySocket: 'haproxy.sock',
  namedPid: 'named.pid',
  namedSessionKey: 'named-session.key',
} as const;

/** nginx's *_temp_path directives, each pointed at its own directory under the run dir. */
export const NGINX_TEMP_PATHS = {
  client_body_temp_path: 'nginx-client-body',
  proxy_temp_path: 'nginx-proxy',
  fastcgi_temp_path: 'nginx-fastcgi',
  uwsgi_temp_path: 'nginx-uwsgi',
  scgi_temp_path: 'nginx-scgi',
} as const;

/**
 * nginx's `client_max_body_size` for bulk writes (`POST /v1/kv`, the `location = /v1/kv`): 1,000 operations in up to
 * 8 MiB, the API's own limit on that route (`BULK_BODY_LIMIT` in apps/api); other routes keep the topology's
 * `gateway.clientMaxBodySize`. A topology whose limit is larger keeps its own here too.
 */
export const BULK_WRITE_MAX_BODY_SIZE = '8m';
