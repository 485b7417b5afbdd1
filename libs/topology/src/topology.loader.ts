import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse } from 'yaml';
import type { ZodIssue } from 'zod';
import { topologySchema, type Topology } from './topology.schema';

/** Thrown when a topology file is unreadable or invalid; `problems` names every bad field and why. */
export class TopologyError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid topology ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'TopologyError';
  }
}

function describe(issue: ZodIssue): string {
  const path = issue.path.length ? issue.path.join('.') : '(root)';
  return `${path}: ${issue.message}`;
}

/** Cross-field rules a schema cannot express: unique names and unique host:port pairs. */
function crossCheck(t: Topology): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  const claim = (where: string, host: string, port: number): void => {
    const key = `${host}:${port}`;
    const previous = seen.get(key);
    if (previous) problems.push(`${where}: ${key} is already used by ${previous}`);
    else seen.set(key, where);
  };
  t.gateway.instances.forEach((g, i) => claim(`gateway.instances.${i}.port`, g.host, g.port));
  t.api.instances.forEach((a, i) => claim(`api.instances.${i}.port`, a.host, a.port));
  t.worker.instances.forEach((w, i) => claim(`worker.instances.${i}.port`, w.host, w.port));
  t.redis.nodes.forEach((r, i) => {
    claim(`redis.nodes.${i}.port`, r.host, r.port);
    claim(`redis.nodes.${i}.port (cluster bus +10000)`, r.host, r.port + 10000);
  });
  t.rabbitmq.nodes.forEach((n, i) => {
    claim(`rabbitmq.nodes.${i}.port`, n.host, n.port);
    claim(`rabbitmq.nodes.${i}.managementPort`, n.host, n.managementPort);
    claim(`rabbitmq.nodes.${i}.distPort`, n.host, n.distPort);
  });
  t.database.nodes.forEach((d, i) => claim(`database.nodes.${i}.port`, d.host, d.port));
  claim('haproxy.dbWritePort', t.haproxy.host, t.haproxy.dbWritePort);
  claim('haproxy.dbReadPort', t.haproxy.host, t.haproxy.dbReadPort);
  claim('haproxy.amqpPort', t.haproxy.host, t.haproxy.amqpPort);
  claim('haproxy.statsPort', t.haproxy.host, t.haproxy.statsPort);
  const redirectPort = t.gateway.tls.redirectHttpPort;
  if (redirectPort !== undefined) {
    // One redirect listener per gateway host; several instances on one host share it.
    for (const h of new Set(t.gateway.instances.map((g) => g.host)))
      claim('gateway.tls.redirectHttpPort', h, redirectPort);
  }
  if (t.dns) {
    claim('dns.server.port', t.dns.server.host, t.dns.server.port);
    problems.push(...dnsProblems(t));
  }
  const prometheus = t.monitoring?.prometheus;
  if (t.monitoring && prometheus) {
    const { redis, postgres } = t.monitoring.exporters;
    claim('monitoring.prometheus.port', prometheus.host, prometheus.port);
    claim('monitoring.exporters.redis.port', redis.host ?? prometheus.host, redis.port);
    if (t.database.kind === 'postgres') {
      claim('monitoring.exporters.postgres.port', postgres.host ?? prometheus.host, postgres.port);
    }
    t.rabbitmq.nodes.forEach((n, i) =>
      claim(`rabbitmq.nodes.${i}.prometheusPort`, n.host, n.prometheusPort ?? RABBITMQ_PROMETHEUS_PORT),
    );
    const node = t.monitoring.exporters.node;
    if (node) claim('monitoring.exporters.node.port', node.host ?? prometheus.host, node.port);
    const alertmanager = t.monitoring.alertmanager;
    if (alertmanager) claim('monitoring.alertmanager.port', alertmanager.host, alertmanager.port);
  }
  problems.push(...redundancyProblems(t), ...edgeProblems(t));
  if (t.gateway.resolver && t.api.instances.length !== 1) {
    problems.push(
      `gateway.resolver: needs exactly one api instance (one name that resolves to every API), found ${t.api.instances.length}`,
    );
  }

  const names = [...namedServers(t).map((x) => x.name), ...(t.haproxy.redundancy?.peers.map((x) => x.name) ?? [])];
  const dupes = names.filter((n, i) => names.indexOf(n) !== i);
  for (const d of new Set(dupes)) problems.push(`${d}: instance names must be unique`);

  if (t.database.kind === 'postgres') {
    const primaries = t.database.nodes.filter((n) => n.role === 'primary').length;
    if (primaries !== 1) problems.push(`database.nodes: postgres needs exactly one primary, found ${primaries}`);
    if (t.database.nodes.some((n) => n.role === 'node')) {
      problems.push('database.nodes: role "node" is for cockroach; postgres nodes are primary or replica');
    }
  } else if (t.database.nodes.some((n) => n.role !== 'node')) {
    problems.push('database.nodes: cockroach nodes all have role "node"');
  }
  const masters = Math.floor(t.redis.nodes.length / (t.redis.replicasPerMaster + 1));
  if (masters < 3) {
    problems.push(
      `redis.nodes: a cluster needs at least 3 masters; ${t.redis.nodes.length} nodes with ${t.redis.replicasPerMaster} replica(s) each give ${masters}`,
    );
  }
  return problems;
}

/** The rabbitmq_prometheus plugin's default port, used when a node sets no prometheusPort. */
export const RABBITMQ_PROMETHEUS_PORT = 15692;

/** DNS round robin hands out addresses only: every gateway needs an address literal and the same port. */
function dnsProblems(t: Topology): string[] {
  const problems: string[] = [];
  t.gateway.instances.forEach((g, i) => {
    if (isIP(g.host) === 0) {
      problems.push(`gateway.instances.${i}.host: must be an IP address when dns is set (it becomes an A record)`);
    }
  });
  const ports = [...new Set(t.gateway.instances.map((g) => g.port))];
  if (ports.length > 1) {
    problems.push(
      `gateway.instances: every gateway must use the same port when dns is set (clients only learn addresses), found ${ports.join(', ')}`,
    );
  }
  if (t.dns?.name === 'ns1') problems.push('dns.name: "ns1" is the zone\'s name server record; choose another name');
  const lbName = t.dns?.loadBalancerName;
  if (lbName !== undefined) {
    if (lbName === t.dns?.name || lbName === 'ns1') {
      problems.push(`dns.loadBalancerName: "${lbName}" is already a record of the zone; choose another name`);
    }
  }
  return problems;
}

function redundancyProblems(t: Topology): string[] {
  const r = t.haproxy.redundancy;
  if (!r) return [];
  const problems = peerProblems(r, 'haproxy.redundancy');
  if (t.haproxy.host !== r.virtualIp) {
    problems.unshift(
      `haproxy.host: must be the virtual IP ${r.virtualIp} when redundancy is set (clients reach whichever peer holds it), got ${t.haproxy.host}`,
    );
  }
  return problems;
}

/** Distinct priorities and addresses, none of them the virtual IP. */
function peerProblems(r: NonNullable<Topology['haproxy']['redundancy']>, path: string): string[] {
  const problems: string[] = [];
  const priorities = r.peers.map((p) => p.priority);
  r.peers.forEach((p, i) => {
    if (priorities.indexOf(p.priority) !== i) {
      problems.push(`${path}.peers.${i}.priority: ${p.priority} is already used; priorities must differ`);
    }
    if (r.peers.findIndex((q) => q.address === p.address) !== i) {
      problems.push(`${path}.peers.${i}.address: ${p.address} is already used by another peer`);
    }
    if (p.address === r.virtualIp) {
      problems.push(`${path}.peers.${i}.address: must differ from the virtual IP`);
    }
  });
  return problems;
}

/** The edge pair's peers, and its local network: one bridge address per gateway, none used twice. */
function edgeProblems(t: Topology): string[] {
  const edge = t.edge;
  if (!edge) return [];
  const problems = peerProblems(edge.redundancy, 'edge.redundancy');
  const names = edge.redundancy.peers.map((p) => p.name);
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i) problems.push(`edge.redundancy.peers.${i}.name: "${n}" is already used`);
  });
  const net = edge.network;
  if (net) {
    if (net.gatewayAddresses.length !== t.gateway.instances.length) {
      problems.push(
        `edge.network.gatewayAddresses: needs one address per gateway instance (${t.gateway.instances.length}), found ${net.gatewayAddresses.length}`,
      );
    }
    const used = [
      ['edge.network.hostAddress', net.hostAddress],
      ['edge.redundancy.virtualIp', edge.redundancy.virtualIp],
      ...edge.redundancy.peers.map((p, i) => [`edge.redundancy.peers.${i}.address`, p.address]),
      ...net.gatewayAddresses.map((a, i) => [`edge.network.gatewayAddresses.${i}`, a]),
    ];
    used.forEach(([where, address], i) => {
      const first = used.findIndex(([, a]) => a === address);
      if (first !== i) problems.push(`${where}: ${address} is already used by ${used[first]?.[0]}`);
    });
  }
  if (t.gateway.tls.mode === 'off') {
    problems.push("edge: the HAProxy pair serves HTTPS with the gateways' certificate; set gateway.tls.mode");
  }
  if (edge.httpPort !== undefined && edge.httpPort === edge.port) {
    problems.push(`edge.httpPort: must differ from edge.port (${edge.port})`);
  }
  if (edge.statsPort === edge.port || edge.statsPort === edge.httpPort) {
    problems.push(`edge.statsPort: must differ from edge.port and edge.httpPort`);
  }
  return problems;
}

export function parseTopology(raw: unknown, file = '<inline>'): Topology {
  const result = topologySchema.safeParse(raw);
  if (!result.success) throw new TopologyError(file, result.error.issues.map(describe));
  const problems = crossCheck(result.data);
  if (problems.length) throw new TopologyError(file, problems);
  return result.data;
}

export function loadTopology(file: string): Topology {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TopologyError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new TopologyError(file, [`not valid YAML: ${(err as Error).message}`]);
  }
  return parseTopology(raw, file);
}

/** Every server the topology names: gateways, APIs, workers, database nodes and RabbitMQ nodes, in that order. */
/**
 * The topology as it runs without its edge pair (a local stack that cannot make network namespaces, or
 * `gateway-config render --no-edge`): no HAProxy pair, and gateways on their own addresses only.
 */
export function withoutEdge(t: Topology): Topology {
  const { edge: _edge, ...rest } = t;
  return rest;
}

export function namedServers(t: Topology): Array<{ name: string; host: string }> {
  return [...t.gateway.instances, ...t.api.instances, ...t.worker.instances, ...t.database.nodes, ...t.rabbitmq.nodes];
}
