import type { StackInfo, StackProcess } from '@keyflow/testing';
import { RABBITMQ_PROMETHEUS_PORT, type Topology } from '@keyflow/topology';
import { relative } from 'node:path';
import { DEFAULT_TOPOLOGY } from './cli/cli-args.util';
import { maskUrl } from './secrets.util';

export interface PortClaim {
  what: string;
  host: string;
  port: number;
}

/** Every TCP port the stack will listen on, so `up` can refuse to start over something already there. */
export function topologyPorts(t: Topology): PortClaim[] {
  return [
    ...t.gateway.instances.flatMap((g) => [
      { what: g.name, host: g.host, port: g.port },
      ...(t.gateway.tls.mode !== 'off' && t.gateway.tls.redirectHttpPort !== undefined
        ? [{ what: `${g.name} plain HTTP`, host: g.host, port: t.gateway.tls.redirectHttpPort }]
        : []),
    ]),
    ...t.api.instances.map((a) => ({ what: a.name, host: a.host, port: a.port })),
    ...t.worker.instances.map((w) => ({ what: w.name, host: w.host, port: w.port })),
    ...t.redis.nodes.flatMap((r) => [
      { what: `redis ${r.port}`, host: r.host, port: r.port },
      { what: `redis ${r.port} cluster bus`, host: r.host, port: r.port + 10000 },
    ]),
    { what: 'epmd', host: '127.0.0.1', port: t.rabbitmq.epmdPort },
    ...t.rabbitmq.nodes.flatMap((n) => [
      { what: `rabbitmq ${n.name} amqp`, host: n.host, port: n.port },
      { what: `rabbitmq ${n.name} management`, host: n.host, port: n.managementPort },
      { what: `rabbitmq ${n.name} distribution`, host: n.host, port: n.distPort },
    ]),
    ...t.database.nodes.flatMap((d) => [
      { what: d.name, host: d.host, port: d.port },
      ...(d.restApiPort ? [{ what: `${d.name} patroni`, host: d.host, port: d.restApiPort }] : []),
    ]),
    ...(t.database.failover
      ? [
          { what: 'etcd client', host: t.database.failover.etcd.host, port: t.database.failover.etcd.clientPort },
          { what: 'etcd peer', host: t.database.failover.etcd.host, port: t.database.failover.etcd.peerPort },
        ]
      : []),
    { what: 'haproxy db write', host: t.haproxy.host, port: t.haproxy.dbWritePort },
    { what: 'haproxy db read', host: t.haproxy.host, port: t.haproxy.dbReadPort },
    { what: 'haproxy amqp', host: t.haproxy.host, port: t.haproxy.amqpPort },
    { what: 'haproxy stats', host: t.haproxy.host, port: t.haproxy.statsPort },
    ...(t.dns ? [{ what: 'named (DNS)', host: t.dns.server.host, port: t.dns.server.port }] : []),
    ...monitoringPorts(t),
  ];
}

function monitoringPorts(t: Topology): PortClaim[] {
  const m = t.monitoring;
  const prometheus = m?.prometheus;
  if (!m || !prometheus) return [];
  const { redis, postgres, node } = m.exporters;
  return [
    { what: 'prometheus', host: prometheus.host, port: prometheus.port },
    ...(m.alertmanager ? [{ what: 'alertmanager', host: m.alertmanager.host, port: m.alertmanager.port }] : []),
    { what: 'redis exporter', host: redis.host ?? prometheus.host, port: redis.port },
    ...(t.database.kind === 'postgres'
      ? [{ what: 'postgres exporter', host: postgres.host ?? prometheus.host, port: postgres.port }]
      : []),
    ...(node ? [{ what: 'node exporter', host: node.host ?? prometheus.host, port: node.port }] : []),
    ...t.rabbitmq.nodes.map((n) => ({
      what: `rabbitmq ${n.name} prometheus`,
      host: n.host,
      port: n.prometheusPort ?? RABBITMQ_PROMETHEUS_PORT,
    })),
  ];
}

/**
 * What must appear in a recorded pid's command line (and, for the Erlang VM, whose command line does not name
 * the node, its environment) for it still to be that process. A pid since given to another program is left alone.
 */
export function expectedEnvironment(proc: StackProcess): string[] {
  return proc.kind === 'rabbitmq' ? [`RABBITMQ_NODENAME=${proc.node}`, `RABBITMQ_NODE_PORT=${proc.port}`] : [];
}

export function expectedCommandLine(proc: StackProcess): string {
  switch (proc.kind) {
    // The compiled entry (`dist/…/main.js`) and, from a stack started by an older release, the source (`main.ts`).
    case 'api':
      return 'apps/api/src/main.';
    case 'worker':
      return 'apps/worker/src/main.';
    case 'nginx':
      return 'nginx';
    case 'haproxy':
      return 'haproxy';
    case 'named':
      return 'named';
    case 'redis':
      return `redis-server ${proc.host ?? '127.0.0.1'}:${proc.port}`;
    case 'rabbitmq':
      return 'beam.smp';
    case 'epmd':
      return 'epmd';
    case 'postgres':
      // Patroni, as the supervisor runs it; a stray postmaster (found by its pid file) names its data dir.
      return proc.program ? 'patroni' : (proc.dataDir ?? 'postgres');
    case 'etcd':
      return 'etcd';
    case 'monitoring':
      return 'prometheus';
    case 'haproxy-edge':
      return 'haproxy';
    case 'keepalived':
      return 'keepalived';
  }
}

/** The command that stops this stack, as the user would type it. */
export function stopCommand(topologyFile: string, repoRoot: string): string {
  const rel = relative(repoRoot, topologyFile);
  return rel === DEFAULT_TOPOLOGY ? 'npm stop' : `node tools/stack/bin/keyflow-stack.mjs down --topology ${rel}`;
}

/** The command that discards this stack's data, as the user would type it. */
export function resetCommand(topologyFile: string, repoRoot: string): string {
  const rel = relative(repoRoot, topologyFile);
  return rel === DEFAULT_TOPOLOGY ? 'npm run reset' : `node tools/stack/bin/keyflow-stack.mjs reset --topology ${rel}`;
}

export function formatUrls(info: StackInfo): string[] {
  const rows: [string, string][] = [
    ['Gateways', info.gateways.join(', ')],
    ...(info.httpsGateways && info.httpsGateways.join() !== info.gateways.join()
      ? ([['Gateways (HTTPS)', info.httpsGateways.join(', ')]] as [string, string][])
      : []),
    ...(info.ca
      ? ([['CA certificate', `${info.ca}  (curl --cacert …, NODE_EXTRA_CA_CERTS=…)`]] as [string, string][])
      : []),
    ...(info.dns
      ? ([
          [
            'DNS round robin',
            `${info.dns.name} @ ${info.dns.server}  (dig @${info.dns.server.replace(/:(\d+)$/, ' -p $1')} ${info.dns.name})`,
          ],
        ] as [string, string][])
      : []),
    ...(info.loadBalancer && info.edge
      ? ([
          [
            'Load balancer (VIP)',
            `${info.loadBalancer}${info.edge.name ? ` = ${info.edge.name}` : ''}  (HAProxy pair ${info.edge.peers.map((p) => p.name).join(' + ')}, keepalived; curl --cacert …)`,
          ],
        ] as [string, string][])
      : []),
    ['Admin token', info.token ? 'in stack.json "token" (Authorization: Bearer …)' : '-'],
    ['Web console', `${info.gateway}/`],
    ['Swagger UI', `${info.gateway}/docs`],
    ['OpenAPI', `${info.gateway}/docs/json`],
    ['RabbitMQ management', `${info.management}  (user ${info.managementUser})`],
    ['HAProxy stats', `${info.haproxyStats}  (user ${info.credentials.haproxyStats.username})`],
    ['Passwords', `${info.secretsFile}  (mode 0600; never printed)`],
    ...(info.prometheus
      ? ([['Prometheus', `${info.prometheus}  (targets: /targets, alerts: /alerts)`]] as [string, string][])
      : []),
    ...(info.alertmanager ? ([['Alertmanager', info.alertmanager]] as [string, string][]) : []),
    ['APIs', info.apis.join(', ')],
    ['Workers', info.workers.join(', ')],
    ['DB write / read', `${maskUrl(info.db.write)}  /  ${maskUrl(info.db.read)}`],
    ['PostgreSQL nodes', info.db.replicas.map(maskUrl).join(', ') || '-'],
    ['Patroni (who leads)', info.patroni.map((p) => `${p}/cluster`)[0] ?? '-'],
    ['AMQP (HAProxy)', maskUrl(info.amqpGateway)],
    ['Redis cluster', info.redis.join(',')],
    ['Logs', `${info.stackDir}/logs`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  return rows.map(([k, v]) => `  ${`${k}:`.padEnd(width)} ${v}`);
}

/** One process in `status` (and, as JSON, in `status --json`). */
export interface StatusRow {
  name: string;
  /** The pid the supervisor runs it as now; 0 when it is not running. */
  pid: number;
  /** The supervisor's state: RUNNING, STARTING, BACKOFF, FATAL (gave up on a crash loop), STOPPED, … */
  state: string;
  alive: boolean;
  healthy: boolean;
  /** Times it died and the supervisor started it again, since supervisord started. */
  restarts: number;
  /** How it last ended: `terminated by SIGKILL; not expected`, `exit status 1; not expected`, `gave up: …`. */
  lastExit?: string;
  detail: string;
}

export function formatStatusTable(rows: StatusRow[]): string[] {
  const table = [
    ['NAME', 'PID', 'STATE', 'ALIVE', 'HEALTH', 'RESTARTS', 'LAST EXIT', 'DETAIL'],
    ...rows.map((r) => [
      r.name,
      String(r.pid),
      r.state,
      r.alive ? 'yes' : 'NO',
      r.healthy ? 'ok' : 'FAIL',
      String(r.restarts),
      r.lastExit ?? '-',
      r.detail,
    ]),
  ];
  const last = 7;
  const widths = table[0]?.map((_, col) => Math.max(...table.map((row) => (row[col] ?? '').length))) ?? [];
  return table.map((row) =>
    row
      .map((cell, col) => (col < last ? cell.padEnd(widths[col] ?? 0) : cell))
      .join('  ')
      .trimEnd(),
  );
}
