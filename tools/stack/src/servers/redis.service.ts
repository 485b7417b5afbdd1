import { isAlive, type StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import type { StackLayout } from '../stack-layout.util';
import { run, terminate, waitForExit } from '../util/process.util';
import { waitUntil } from '../util/wait.util';

type RedisNode = Topology['redis']['nodes'][number];

export function redisProcessName(node: Pick<RedisNode, 'port'>): string {
  return `redis-${node.port}`;
}

/**
 * One cluster node. It runs in the foreground (`daemonize no`) under the supervisor, and rejoins its cluster from
 * its nodes.conf whenever it starts again.
 */
export function redisConfig(node: RedisNode, topology: Pick<Topology, 'redis'>, layout: StackLayout): string {
  const name = redisProcessName(node);
  return [
    `port ${node.port}`,
    `bind ${node.host}`,
    `dir ${join(layout.data, name)}`,
    'daemonize no',
    // Logs go to stdout, which the supervisor writes to logs/<name>.log and rotates.
    'logfile ""',
    'cluster-enabled yes',
    'cluster-config-file nodes.conf',
    `cluster-node-timeout ${topology.redis.nodeTimeoutMs}`,
    // A memory limit that evicts nothing: sessions, revocation markers, idempotency claims and operation records
    // live here too, and none may vanish silently. At the limit, writes fail (OOM) and keyflow answers 503 with
    // Retry-After; workers drop a cache entry they cannot update. Everything keyflow stores has a TTL, so memory
    // comes back on its own (see libs/cache/README.md for what takes how much). Per node; a replica holds its
    // master's data, so the limit is per master.
    'maxmemory 512mb',
    'maxmemory-policy noeviction',
    // The append-only file is the node's data across stop, start and crashes (sessions live here).
    'appendonly yes',
    'appendfsync everysec',
    'save ""',
    '',
  ].join('\n');
}

/** Parses `CLUSTER INFO` (`key:value` lines). */
export function parseClusterInfo(text: string): Record<string, string> {
  const info: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) info[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return info;
}

/** The Redis cluster: every `redis.nodes` entry; `redis-cli --cluster create` only when no cluster exists yet. */
export class RedisService implements StackComponent {
  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    return topology.redis.nodes.map((node) => {
      const name = redisProcessName(node);
      mkdirSync(join(layout.data, name), { recursive: true });
      const conf = join(layout.conf, `${name}.conf`);
      writeFileSync(conf, redisConfig(node, topology, layout));
      return {
        spec: {
          name,
          group: 'redis',
          command: 'redis-server',
          args: [conf],
          cwd: layout.stackDir,
          priority: 100,
          startSecs: 2,
          startRetries: 5,
          stopWaitSecs: 20,
        },
        proc: { name, kind: 'redis', host: node.host, port: node.port },
      };
    });
  }

  async ensure({ topology, progress, supervisor }: StartContext): Promise<void> {
    const nodes = topology.redis.nodes;
    await supervisor.startGroup('redis');
    await Promise.all(
      nodes.map((n) =>
        waitUntil(async () => (await this.cli(n, ['PING'])).trim() === 'PONG', {
          timeoutMs: 30_000,
          what: `redis ${n.host}:${n.port} to answer PING`,
        }),
      ),
    );
    progress.line('redis', `${nodes.length} nodes answer PING`);

    // Each node keeps its cluster membership in nodes.conf (under data/): a stack started before comes back as
    // the same cluster, with its data from the append-only files. Only nodes that know no cluster get one.
    const infos = await Promise.all(nodes.map(async (n) => parseClusterInfo(await this.cli(n, ['CLUSTER', 'INFO']))));
    const blank = infos.every((i) => i['cluster_known_nodes'] === '1' && i['cluster_slots_assigned'] === '0');
    if (blank) {
      await run('redis-cli', [
        '--cluster',
        'create',
        ...nodes.map((n) => `${n.host}:${n.port}`),
        '--cluster-replicas',
        String(topology.redis.replicasPerMaster),
        '--cluster-yes',
      ]);
      progress.line('redis', 'new cluster created');
    }
    await Promise.all(
      nodes.map((n) =>
        waitUntil(
          async () => {
            const info = parseClusterInfo(await this.cli(n, ['CLUSTER', 'INFO']));
            return (
              info['cluster_state'] === 'ok' &&
              info['cluster_slots_ok'] === '16384' &&
              info['cluster_known_nodes'] === String(nodes.length)
            );
          },
          {
            timeoutMs: 60_000,
            what: `redis ${n.host}:${n.port} to see cluster_state:ok and ${nodes.length} known nodes`,
          },
        ),
      ),
    );
    const masters = Math.floor(nodes.length / (topology.redis.replicasPerMaster + 1));
    progress.line(
      'redis',
      `cluster ok: ${masters} masters, ${nodes.length - masters} replicas${blank ? '' : ' (from its data on disk)'}`,
    );
  }

  async stop(proc: StackProcess): Promise<string> {
    if (!isAlive(proc.pid)) return 'not running';
    // SHUTDOWN flushes the append-only file; nothing is discarded.
    await run('redis-cli', ['-h', proc.host ?? '127.0.0.1', '-p', String(proc.port), 'SHUTDOWN'], {
      check: false,
      timeoutMs: 10_000,
    });
    if (await waitForExit(proc.pid, 10_000)) return 'stopped';
    return terminate(proc.pid, 10_000);
  }

  async health(proc: StackProcess): Promise<Health> {
    const out = await this.cli({ host: proc.host ?? '127.0.0.1', port: proc.port ?? 0 }, ['CLUSTER', 'INFO']).catch(
      () => '',
    );
    const state = parseClusterInfo(out)['cluster_state'];
    return { healthy: state === 'ok', detail: state ? `cluster_state:${state}` : 'no answer' };
  }

  private async cli(node: Pick<RedisNode, 'host' | 'port'>, args: string[]): Promise<string> {
    const res = await run('redis-cli', ['-h', node.host, '-p', String(node.port), ...args], { timeoutMs: 5_000 });
    return res.stdout;
  }
}
