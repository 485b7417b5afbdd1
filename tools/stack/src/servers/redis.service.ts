import type { StackLaunchSpec, StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Health, ProcessControl, StartContext } from '../stack-context';
import { inheritedEnv, writeLaunchSpec } from '../stack-file.util';
import { logFile, type StackLayout } from '../stack-layout.util';
import { isAlive, run, spawnDetached, terminate, waitForExit } from '../util/process.util';
import { waitUntil } from '../util/wait.util';

type RedisNode = Topology['redis']['nodes'][number];

export function redisProcessName(node: Pick<RedisNode, 'port'>): string {
  return `redis-${node.port}`;
}

/**
 * One cluster node. It runs in the foreground (`daemonize no`) as a detached child, so the pid we record is
 * the server's own and the same launch file restarts it (it rejoins from its nodes.conf).
 */
export function redisConfig(node: RedisNode, topology: Pick<Topology, 'redis'>, layout: StackLayout): string {
  const name = redisProcessName(node);
  return [
    `port ${node.port}`,
    `bind ${node.host}`,
    `dir ${join(layout.data, name)}`,
    'daemonize no',
    `pidfile ${join(layout.run, `${name}.pid`)}`,
    `logfile ${logFile(layout, name)}`,
    'cluster-enabled yes',
    'cluster-config-file nodes.conf',
    `cluster-node-timeout ${topology.redis.nodeTimeoutMs}`,
    'appendonly yes',
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

/** The Redis cluster: every `redis.nodes` entry, then `redis-cli --cluster create`. */
export class RedisService implements ProcessControl {
  async start({ topology, layout, progress, record }: StartContext): Promise<void> {
    const nodes = topology.redis.nodes;
    for (const node of nodes) {
      const name = redisProcessName(node);
      mkdirSync(join(layout.data, name), { recursive: true });
      const conf = join(layout.conf, `${name}.conf`);
      writeFileSync(conf, redisConfig(node, topology, layout));
      const spec: StackLaunchSpec = {
        name,
        command: 'redis-server',
        args: [conf],
        env: inheritedEnv(),
        cwd: layout.stackDir,
        logFile: logFile(layout, name),
      };
      writeLaunchSpec(layout, spec);
      const pid = spawnDetached(spec.command, spec.args, spec);
      record.addProcess({ name, pid, kind: 'redis', host: node.host, port: node.port });
    }
    await Promise.all(
      nodes.map((n) =>
        waitUntil(async () => (await this.cli(n, ['PING'])).trim() === 'PONG', {
          timeoutMs: 20_000,
          what: `redis ${n.host}:${n.port} to answer PING`,
        }),
      ),
    );
    progress.line('redis', `${nodes.length} nodes answer PING`);

    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas',
      String(topology.redis.replicasPerMaster),
      '--cluster-yes',
    ]);
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
            timeoutMs: 30_000,
            what: `redis ${n.host}:${n.port} to see cluster_state:ok and ${nodes.length} known nodes`,
          },
        ),
      ),
    );
    const masters = Math.floor(nodes.length / (topology.redis.replicasPerMaster + 1));
    progress.line('redis', `cluster ok: ${masters} masters, ${nodes.length - masters} replicas`);
  }

  async stop(proc: StackProcess): Promise<string> {
    if (!isAlive(proc.pid)) return 'not running';
    await run('redis-cli', ['-h', proc.host ?? '127.0.0.1', '-p', String(proc.port), 'SHUTDOWN', 'NOSAVE'], {
      check: false,
      timeoutMs: 5_000,
    });
    if (await waitForExit(proc.pid, 5_000)) return 'stopped';
    return terminate(proc.pid, 5_000);
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
