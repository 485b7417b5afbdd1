import { join } from 'node:path';
import type { LbAlgorithm, Topology } from '@keyflow/topology';
import {
  HAPROXY_CFG_FILE,
  NGINX_CONF_FILE,
  NGINX_TEMP_PATHS,
  PG_PRIMARY_CHECK_FILE,
  RUN_FILES,
} from './render.constant';

/**
 * View models: everything a template prints, computed here so the templates only loop and branch on flags.
 * Every field is always present (null rather than missing) because templates compile in strict mode.
 */

export interface RenderPaths {
  /** Absolute directory nginx and HAProxy write pids, logs, sockets and temp files to at run time. */
  runDir: string;
  /** Absolute directory the rendered files are written to (the HAProxy check script is run from there). */
  outDir: string;
}

interface NamedAddress {
  name: string;
  address: string;
}

export interface ProblemPageView {
  status: number;
  location: string;
  /** JSON text for nginx `return <status> '<body>'`; may contain nginx variables such as $request_id. */
  body: string;
}

export interface NginxView {
  topologyName: string;
  runDir: string;
  confFile: string;
  pidFile: string;
  errorLog: string;
  accessLog: string | null;
  tempPaths: Array<{ directive: string; path: string }>;
  clientMaxBodySize: string;
  balanceDirective: string | null;
  upstreams: NamedAddress[];
  servers: Array<{ name: string; listen: string }>;
  problems: { notFound: string; pages: ProblemPageView[] };
}

export interface HaproxyView {
  topologyName: string;
  confFile: string;
  pidFile: string;
  statsSocket: string;
  dbWriteBind: string;
  dbReadBind: string;
  amqpBind: string;
  statsBind: string;
  postgres: {
    checkScript: string;
    writeServers: NamedAddress[];
    readServers: Array<NamedAddress & { backup: boolean }>;
  } | null;
  cockroach: { servers: Array<NamedAddress & { httpPort: number }> } | null;
  rabbitmq: NamedAddress[];
}

export interface PgPrimaryCheckView {
  topologyName: string;
  user: string;
  database: string;
}

/** `host:port`, with IPv6 literals bracketed as both nginx and HAProxy expect. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** nginx's balancing directive for the upstream block; round robin is nginx's default and needs none. */
export function nginxBalanceDirective(algorithm: LbAlgorithm): string | null {
  switch (algorithm) {
    case 'leastconn':
      return 'least_conn;';
    case 'source':
      return 'ip_hash;';
    case 'roundrobin':
      return null;
  }
}

/**
 * An RFC 9457 body for nginx's `return` directive. nginx interpolates `$name` in it, which is how the
 * request id gets in; any other `$` or a single quote would break the directive, so refuse them.
 */
function problemBody(status: number, title: string, detail: string): string {
  if (/[$'\\]/.test(title + detail)) throw new Error(`problem text must not contain $, ' or \\: ${title} ${detail}`);
  return JSON.stringify({ type: 'about:blank', title, status, detail, requestId: '$request_id' });
}

function nginxProblems(t: Topology): NginxView['problems'] {
  const pages: Array<[number, string, string]> = [
    [413, 'Content Too Large', `The request body exceeds the gateway limit of ${t.gateway.clientMaxBodySize}.`],
    [
      502,
      'Bad Gateway',
      'No API instance answered. A write sent without an Idempotency-Key may or may not have been accepted.',
    ],
    [503, 'Service Unavailable', 'No API instance is available to take the request.'],
    [
      504,
      'Gateway Timeout',
      'The API instance did not answer in time. A write sent without an Idempotency-Key may or may not have been accepted.',
    ],
  ];
  return {
    notFound: problemBody(404, 'Not Found', 'The gateway does not serve this path.'),
    pages: pages.map(([status, title, detail]) => ({
      status,
      location: `@problem_${status}`,
      body: problemBody(status, title, detail),
    })),
  };
}

export function buildNginxView(t: Topology, { runDir, outDir }: RenderPaths): NginxView {
  return {
    topologyName: t.name,
    runDir,
    confFile: join(outDir, NGINX_CONF_FILE),
    pidFile: join(runDir, RUN_FILES.nginxPid),
    errorLog: join(runDir, RUN_FILES.nginxErrorLog),
    accessLog: t.gateway.accessLog ? join(runDir, RUN_FILES.nginxAccessLog) : null,
    tempPaths: Object.entries(NGINX_TEMP_PATHS).map(([directive, dir]) => ({ directive, path: join(runDir, dir) })),
    clientMaxBodySize: t.gateway.clientMaxBodySize,
    balanceDirective: nginxBalanceDirective(t.gateway.algorithm),
    upstreams: t.api.instances.map((a) => ({ name: a.name, address: hostPort(a.host, a.port) })),
    servers: t.gateway.instances.map((g) => ({ name: g.name, listen: hostPort(g.host, g.port) })),
    problems: nginxProblems(t),
  };
}

export function buildHaproxyView(t: Topology, { runDir, outDir }: RenderPaths): HaproxyView {
  const db = t.database;
  const bind = (port: number): string => hostPort(t.haproxy.host, port);
  const named = (n: { name: string; host: string; port: number }): NamedAddress => ({
    name: n.name,
    address: hostPort(n.host, n.port),
  });
  return {
    topologyName: t.name,
    confFile: join(outDir, HAPROXY_CFG_FILE),
    pidFile: join(runDir, RUN_FILES.haproxyPid),
    statsSocket: join(runDir, RUN_FILES.haproxySocket),
    dbWriteBind: bind(t.haproxy.dbWritePort),
    dbReadBind: bind(t.haproxy.dbReadPort),
    amqpBind: bind(t.haproxy.amqpPort),
    statsBind: bind(t.haproxy.statsPort),
    postgres:
      db.kind === 'postgres'
        ? {
            checkScript: join(outDir, PG_PRIMARY_CHECK_FILE),
            // `balance first` sends every write to the first server that is up; listing the configured primary
            // first keeps that choice deterministic even if two nodes ever pass the check at once.
            writeServers: [...db.nodes].sort((a, b) => rank(a.role) - rank(b.role)).map(named),
            readServers: [...db.nodes]
              .sort((a, b) => rank(b.role) - rank(a.role))
              .map((n) => ({ ...named(n), backup: n.role === 'primary' })),
          }
        : null,
    cockroach:
      db.kind === 'cockroach' ? { servers: db.nodes.map((n) => ({ ...named(n), httpPort: n.httpPort })) } : null,
    rabbitmq: t.rabbitmq.nodes.map(named),
  };
}

function rank(role: 'primary' | 'replica' | 'node'): number {
  return role === 'primary' ? 0 : 1;
}

export function buildPgPrimaryCheckView(t: Topology): PgPrimaryCheckView {
  return { topologyName: t.name, user: t.database.user, database: t.database.name };
}
