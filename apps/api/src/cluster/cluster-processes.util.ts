import type { Topology } from '@keyflow/topology';

/** How a process is checked: its HTTP health route (200 = up), or a TCP connection to its port. */
export type ProcessProbe = { kind: 'http'; url: string } | { kind: 'tcp'; host: string; port: number };

export type ClusterProcessKind =
  'gateway' | 'api' | 'worker' | 'redis' | 'rabbitmq' | 'database' | 'haproxy' | 'dns' | 'etcd' | 'load-balancer';

/** One process of the deployment, as the topology describes it. */
export interface ClusterProcess {
  name: string;
  kind: ClusterProcessKind;
  /** `host:port` a client or peer reaches it at. */
  address: string;
  probe: ProcessProbe;
  /** Patroni's REST API (PostgreSQL with failover): `/primary` answers 200 on the primary only. */
  primaryUrl?: string;
}

const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
const httpUrl = (host: string, port: number, path: string): string => `http://${hostPort(host, port)}${path}`;
const tcp = (host: string, port: number): ProcessProbe => ({ kind: 'tcp', host, port });

/**
 * Every process the topology runs, with how to check it: the apps by their readiness route, the gateways and the
 * servers without an HTTP health route by a TCP connection, PostgreSQL nodes by Patroni's `/health` (or a TCP
 * connection without Patroni), CockroachDB nodes by `/health?ready=1`.
 */
export function clusterProcesses(t: Topology): ClusterProcess[] {
  const processes: ClusterProcess[] = [
    ...t.gateway.instances.map((g) => ({
      name: g.name,
      kind: 'gateway' as const,
      address: hostPort(g.host, g.port),
      probe: tcp(g.host, g.port),
    })),
    ...t.api.instances.map((a) => ({
      name: a.name,
      kind: 'api' as const,
      address: hostPort(a.host, a.port),
      probe: { kind: 'http' as const, url: httpUrl(a.host, a.port, '/health/ready') },
    })),
    ...t.worker.instances.map((w) => ({
      name: w.name,
      kind: 'worker' as const,
      address: hostPort(w.host, w.port),
      probe: { kind: 'http' as const, url: httpUrl(w.host, w.port, '/health/ready') },
    })),
    ...t.redis.nodes.map((n) => ({
      name: `redis-${n.port}${t.redis.nodes.some((o) => o !== n && o.port === n.port) ? `-${n.host}` : ''}`,
      kind: 'redis' as const,
      address: hostPort(n.host, n.port),
      probe: tcp(n.host, n.port),
    })),
    ...t.rabbitmq.nodes.map((n) => ({
      name: n.name,
      kind: 'rabbitmq' as const,
      address: hostPort(n.host, n.port),
      probe: tcp(n.host, n.port),
    })),
    ...t.database.nodes.map((n): ClusterProcess => {
      const base = { name: n.name, kind: 'database' as const, address: hostPort(n.host, n.port) };
      if (t.database.kind === 'cockroach') {
        return { ...base, probe: { kind: 'http', url: httpUrl(n.host, n.httpPort, '/health?ready=1') } };
      }
      if (n.restApiPort !== undefined && t.database.failover) {
        return {
          ...base,
          probe: { kind: 'http', url: httpUrl(n.host, n.restApiPort, '/health') },
          primaryUrl: httpUrl(n.host, n.restApiPort, '/primary'),
        };
      }
      return { ...base, probe: tcp(n.host, n.port) };
    }),
    {
      name: 'haproxy',
      kind: 'haproxy',
      address: hostPort(t.haproxy.host, t.haproxy.statsPort),
      probe: tcp(t.haproxy.host, t.haproxy.statsPort),
    },
  ];
  // The edge pair's peers, each by its HAProxy's liveness URI on the peer's own address.
  for (const peer of t.edge?.redundancy.peers ?? []) {
    const port = t.edge?.statsPort ?? 0;
    processes.push({
      name: `haproxy-edge-${peer.name}`,
      kind: 'load-balancer',
      address: hostPort(peer.address, port),
      probe: { kind: 'http', url: httpUrl(peer.address, port, '/healthz') },
    });
  }
  if (t.dns) {
    const { host, port } = t.dns.server;
    processes.push({ name: 'named', kind: 'dns', address: hostPort(host, port), probe: tcp(host, port) });
  }
  const etcd = t.database.failover?.etcd;
  if (etcd) {
    processes.push({
      name: 'etcd',
      kind: 'etcd',
      address: hostPort(etcd.host, etcd.clientPort),
      probe: { kind: 'http', url: httpUrl(etcd.host, etcd.clientPort, '/health') },
    });
  }
  return processes;
}

/**
 * Who takes the database's writes: with Patroni, the node whose `/primary` answered 200 (`primaries`); without it,
 * the topology's primary; CockroachDB has none (every node takes writes).
 */
export function databasePrimary(t: Topology, primaries: string[]): string | null {
  if (t.database.kind === 'cockroach') return null;
  if (t.database.failover) return primaries[0] ?? null;
  return t.database.nodes.find((n) => n.role === 'primary')?.name ?? null;
}
