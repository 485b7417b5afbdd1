import { join } from 'node:path';
import type { Topology } from '@keyflow/topology';
import { pgPrimaryCheck, type PgPrimaryCheck } from '../pg-check.util';
import { HAPROXY_CFG_FILE, RUN_FILES } from '../render.constant';
import { hostPort, type NamedAddress, type RenderPaths } from './view-model.util';

export interface HaproxyView {
  topologyName: string;
  confFile: string;
  pidFile: string;
  statsSocket: string;
  dbWriteBind: string;
  dbReadBind: string;
  amqpBind: string;
  statsBind: string;
  /** `inter … fall … rise …` for the database and AMQP servers. */
  dbCheck: string;
  amqpCheck: string;
  /** `parseResolvConf`: the nameservers of /etc/resolv.conf (HAProxy's `parse-resolv-conf`), else `nameservers`. */
  resolvers: { name: string; nameservers: NamedAddress[]; parseResolvConf: boolean } | null;
  /** Appended to every server line: run-time DNS resolution, or nothing. */
  serverOptions: string;
  postgres: {
    checkUser: string;
    check: PgPrimaryCheck;
    writeServers: NamedAddress[];
    readServers: Array<NamedAddress & { backup: boolean }>;
  } | null;
  cockroach: { servers: Array<NamedAddress & { httpPort: number }> } | null;
  /** PostgreSQL under Patroni: HAProxy follows Patroni's own health endpoints on each node's REST port. */
  patroni: { servers: Array<NamedAddress & { restApiPort: number }> } | null;
  rabbitmq: NamedAddress[];
}

function haproxyCheck(c: { interval: string; fall: number; rise: number }): string {
  return `inter ${c.interval} fall ${c.fall} rise ${c.rise}`;
}

export function buildHaproxyView(t: Topology, { runDir, outDir }: RenderPaths): HaproxyView {
  const db = t.database;
  const dbChecks = t.healthChecks.database;
  const bind = (port: number): string => (t.haproxy.listenAll ? `*:${port}` : hostPort(t.haproxy.host, port));
  const resolvers = t.haproxy.resolvers;
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
    // With a redundant pair the stats frontend listens on every address, so each peer can be scraped at its own.
    statsBind: t.haproxy.redundancy ? `*:${t.haproxy.statsPort}` : bind(t.haproxy.statsPort),
    resolvers: resolvers
      ? {
          name: 'keyflow_dns',
          nameservers:
            resolvers === 'resolv.conf'
              ? []
              : resolvers.map((r, i) => ({ name: `dns${i + 1}`, address: hostPort(r.host, r.port) })),
          parseResolvConf: resolvers === 'resolv.conf',
        }
      : null,
    // init-addr last,libc,none: start even when a server's name does not resolve yet; it stays down until it does.
    serverOptions: resolvers ? ' resolvers keyflow_dns init-addr last,libc,none' : '',
    dbCheck: haproxyCheck({ ...dbChecks, interval: dbChecks.interval ?? (db.kind === 'postgres' ? '1s' : '2s') }),
    amqpCheck: haproxyCheck({ ...t.healthChecks.amqp, interval: t.healthChecks.amqp.interval ?? '2s' }),
    postgres:
      db.kind === 'postgres' && !db.failover
        ? {
            checkUser: db.user,
            check: pgPrimaryCheck(db.user, db.name),
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
    patroni:
      db.kind === 'postgres' && db.failover
        ? {
            servers: [...db.nodes]
              .sort((a, b) => rank(a.role) - rank(b.role))
              .map((n) => ({ ...named(n), restApiPort: n.restApiPort ?? 8008 })),
          }
        : null,
    rabbitmq: t.rabbitmq.nodes.map(named),
  };
}

function rank(role: 'primary' | 'replica' | 'node'): number {
  return role === 'primary' ? 0 : 1;
}
