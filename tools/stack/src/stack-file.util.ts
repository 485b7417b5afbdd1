import type { StackInfo, StackLaunchSpec, StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Credential, secretsFile, type StackSecrets } from './secrets.util';
import { loadBalancerUrl, peerNamespace } from './servers/edge-names.util';
import type { StackLayout } from './stack-layout.util';

const http = (e: { host: string; port: number }): string => `http://${e.host}:${e.port}`;
const login = (c: Credential): string => `${encodeURIComponent(c.username)}:${encodeURIComponent(c.password)}`;
const https = (e: { host: string; port: number }): string => `https://${e.host}:${e.port}`;

/** Where the stack's CA certificate is (`gateway.tls.mode: local-ca`): clients trust it to reach the gateways. */
export function caFile(layout: Pick<StackLayout, 'conf'>): string {
  return join(layout.conf, 'ca.crt');
}

/**
 * The gateways' URLs. `gateways` are where every route is served: HTTPS when plain HTTP only redirects, plain HTTP
 * when the topology serves it too (`tls.plainHttp: serve`, the test stack); `https` are the TLS ones, when TLS is on.
 */
export function gatewayUrls(topology: Topology): { gateways: string[]; https: string[] } {
  const { instances, tls } = topology.gateway;
  if (tls.mode === 'off') return { gateways: instances.map(http), https: [] };
  const plainPort = tls.redirectHttpPort;
  const plain = plainPort !== undefined && tls.plainHttp === 'serve';
  return {
    gateways: plain ? instances.map((g) => http({ host: g.host, port: plainPort })) : instances.map(https),
    https: instances.map(https),
  };
}

/** The database URL the apps use: the application role with its password (mask it before printing). */
export function postgresUrl(topology: Topology, host: string, port: number, credential: Credential): string {
  return `postgres://${login(credential)}@${host}:${port}/${topology.database.name}`;
}

/** The broker URL the apps use: their own user and vhost. */
export function amqpUrl(host: string, port: number, rabbitmq: StackSecrets['rabbitmq']): string {
  return `amqp://${login(rabbitmq.app)}@${host}:${port}/${encodeURIComponent(rabbitmq.vhost)}`;
}

/** stack.json's `loadBalancer` and `edge`, for a topology whose edge pair runs locally. */
function edgeInfo(topology: Topology): Pick<StackInfo, 'loadBalancer' | 'edge'> {
  const edge = topology.edge;
  const network = edge?.network;
  if (!edge || !network) return {};
  const vip = edge.redundancy.virtualIp;
  return {
    loadBalancer: loadBalancerUrl(edge),
    edge: {
      virtualIp: vip,
      ...(topology.dns?.loadBalancerName ? { name: `${topology.dns.loadBalancerName}.${topology.dns.zone}` } : {}),
      ...(edge.httpPort !== undefined
        ? { http: `http://${vip}${edge.httpPort === 80 ? '' : `:${edge.httpPort}`}` }
        : {}),
      peers: edge.redundancy.peers.map((p) => ({
        name: p.name,
        namespace: peerNamespace(network, p.name),
        address: p.address,
        priority: p.priority,
        stats: `http://${p.address}:${edge.statsPort}/stats`,
      })),
    },
  };
}

/** Everything stack.json says about a topology before any process runs (`processes` fills in as they start). */
export function buildStackInfo(
  topology: Topology,
  layout: StackLayout,
  startedAt: Date,
  supervisorConfig: string,
  secrets: StackSecrets,
): StackInfo {
  const { haproxy, database, rabbitmq } = topology;
  const firstRabbit = rabbitmq.nodes[0];
  const firstGateway = topology.gateway.instances[0];
  if (!database.nodes.length || !firstRabbit || !firstGateway) {
    throw new Error('topology has no database, RabbitMQ or gateway node');
  }
  const app = secrets.postgres.app;
  const write = postgresUrl(topology, haproxy.host, haproxy.dbWritePort, app);
  const urls = gatewayUrls(topology);
  const read = postgresUrl(topology, haproxy.host, haproxy.dbReadPort, app);
  return {
    state: 'starting',
    name: topology.name,
    topology: layout.topologyFile,
    stackDir: layout.stackDir,
    startedAt: startedAt.toISOString(),
    gateway: urls.gateways[0] ?? http(firstGateway),
    gateways: urls.gateways,
    ...(urls.https.length ? { httpsGateways: urls.https } : {}),
    ...(topology.gateway.tls.mode === 'local-ca' ? { ca: caFile(layout) } : {}),
    apis: topology.api.instances.map(http),
    workers: topology.worker.instances.map(http),
    management: `http://${firstRabbit.host}:${firstRabbit.managementPort}`,
    managementUser: secrets.rabbitmq.admin.username,
    managementPassword: secrets.rabbitmq.admin.password,
    amqp: rabbitmq.nodes.map((n) => amqpUrl(n.host, n.port, secrets.rabbitmq)),
    amqpGateway: amqpUrl(haproxy.host, haproxy.amqpPort, secrets.rabbitmq),
    amqpVhost: secrets.rabbitmq.vhost,
    redis: topology.redis.nodes.map((n) => `${n.host}:${n.port}`),
    // Which node is primary changes on failover: the stable URLs go through HAProxy, which follows Patroni.
    db: {
      primary: write,
      replica: read,
      replicas: database.nodes.map((n) => postgresUrl(topology, n.host, n.port, app)),
      write,
      read,
    },
    haproxyStats: `http://${haproxy.host}:${haproxy.statsPort}/stats`,
    secretsFile: secretsFile(layout),
    credentials: {
      redis: { app: secrets.redis.app, admin: secrets.redis.admin },
      dbSuperuser: secrets.postgres.superuser,
      patroni: secrets.postgres.restApi,
      haproxyStats: secrets.haproxyStats,
    },
    ...(topology.dns
      ? {
          dns: {
            server: `${topology.dns.server.host}:${topology.dns.server.port}`,
            name: `${topology.dns.name}.${topology.dns.zone}`,
          },
        }
      : {}),
    ...edgeInfo(topology),
    ...(topology.monitoring?.prometheus ? { prometheus: http(topology.monitoring.prometheus) } : {}),
    ...(topology.monitoring?.alertmanager ? { alertmanager: http(topology.monitoring.alertmanager) } : {}),
    supervisor: { config: supervisorConfig },
    patroni: database.nodes.flatMap((n) => (n.restApiPort ? [`http://${n.host}:${n.restApiPort}`] : [])),
    processes: [],
  };
}

/** Written to a temporary file and renamed, so readers never see half a file; readable by its owner only. */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

export function readStackFile(file: string): StackInfo | undefined {
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
}

/**
 * The live stack.json of a stack being started: every process is recorded the moment it has a pid, and the
 * file is rewritten atomically each time, so `down` can clean up after a start that died half-way.
 */
export class StackRecord {
  constructor(
    private info: StackInfo,
    private readonly file: string,
  ) {}

  get current(): StackInfo {
    return this.info;
  }

  addProcess(proc: StackProcess): void {
    this.info = { ...this.info, processes: [...this.info.processes.filter((p) => p.name !== proc.name), proc] };
    this.save();
  }

  /** The admin's API token: stack.json holds a credential from here on, hence its 0600 mode. */
  setToken(token: string): void {
    this.info = { ...this.info, token };
    this.save();
  }

  setState(state: StackInfo['state']): void {
    this.info = { ...this.info, state };
    this.save();
  }

  save(): void {
    writeJsonAtomic(this.file, this.info);
  }
}

export function launchSpecFile(layout: Pick<StackLayout, 'run'>, name: string): string {
  return join(layout.run, `${name}.json`);
}

export function writeLaunchSpec(layout: Pick<StackLayout, 'run'>, spec: StackLaunchSpec): void {
  writeJsonAtomic(launchSpecFile(layout, spec.name), spec);
}

export function readLaunchSpec(layout: Pick<StackLayout, 'run'>, name: string): StackLaunchSpec {
  const file = launchSpecFile(layout, name);
  if (!existsSync(file))
    throw new Error(`${name} has no launch file ${file}: only apps, Redis and RabbitMQ nodes restart`);
  return JSON.parse(readFileSync(file, 'utf8')) as StackLaunchSpec;
}

/** The part of our environment a launched server inherits: enough to find its tools, nothing of the caller's app config. */
export function inheritedEnv(source: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'TMPDIR', 'TZ', 'LANG', 'LC_ALL']) {
    const value = source[key];
    if (value !== undefined) env[key] = value;
  }
  env['PATH'] ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  env['LANG'] ??= 'C.UTF-8';
  return env;
}
