import { isAlive, type StackProcess } from '@keyflow/testing';
import type { Topology } from '@keyflow/topology';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Credential, requireSecrets, type StackSecrets } from '../secrets.util';
import type { Health, StackComponent, StartContext, SupervisedProcess } from '../stack-context';
import type { StackLayout } from '../stack-layout.util';
import { run, terminate, waitForExit } from '../util/process.util';
import { waitUntil } from '../util/wait.util';

type RedisNode = Topology['redis']['nodes'][number];

export function redisProcessName(node: Pick<RedisNode, 'port'>): string {
  return `redis-${node.port}`;
}

/**
 * The key patterns the apps use, one per feature: the read cache and its floors (`kv:`), operation records
 * (`op:`), idempotency claims (`idem:`), the token cache (`token:`) and its revocation channel, sessions
 * (`session:`), the login throttle (`login:`), and the worker's own keys (`keyflow:workers`,
 * `keyflow:apply-failures:`). A feature with a new prefix adds it here, or its commands get NOPERM.
 */
export const APP_KEY_PATTERNS = ['kv:*', 'op:*', 'idem:*', 'token:*', 'session:*', 'login:*', 'keyflow:*'];
export const APP_CHANNELS = ['token:revoked'];
/**
 * The commands the apps send (ioredis included: cluster topology, scripts by hash with EVAL as the fallback,
 * the token cache's subscriber), and those the Lua scripts call. Nothing that reads or changes the server
 * (CONFIG, FLUSHALL, KEYS, DEBUG, SHUTDOWN, ACL, MODULE, REPLICAOF, CLUSTER changes) and no key outside the patterns.
 */
export const APP_COMMANDS = [
  ...['ping', 'auth', 'hello', 'client|setname', 'client|getname', 'quit', 'readonly', 'readwrite'],
  // CLUSTER SLOTS is how ioredis learns the topology; INFO is its subscriber connection's ready check.
  ...['cluster|slots', 'cluster|info', 'info'],
  ...['get', 'set', 'getex', 'del', 'unlink', 'exists', 'expire', 'pexpire', 'ttl', 'pttl', 'incr', 'decr', 'mget'],
  ...['hget', 'hset', 'hgetall', 'hdel'],
  // Each user's set of session ids (`session:user:<id>`): ended all at once on a password change or a disable.
  ...['sadd', 'srem', 'smembers'],
  ...['zadd', 'zrem', 'zrangebyscore', 'zremrangebyscore', 'zrange', 'zcard'],
  ...['evalsha', 'eval', 'script|load', 'script|exists'],
  // The worker's cache commit waits until the master's replica has it (WAIT 1 …) and asks ROLE how many it has.
  'wait',
  'role',
  ...['publish', 'subscribe', 'unsubscribe'],
];

const sha256 = (password: string): string => createHash('sha256').update(password).digest('hex');

/**
 * The ACL of every node (the same on all, in each node's config): `default` is off, so a client that does not
 * log in can do nothing (NOAUTH); the apps' user reaches only its key patterns with its commands; the admin user
 * is for the stack and the tests; the replication user is what replicas log in to their master with.
 * Passwords are given as SHA-256 (`#…`), so the configs hold no password but `masterauth`.
 */
export function redisAclUsers(secrets: StackSecrets['redis']): string[] {
  const user = (c: Credential, rules: string): string => `user ${c.username} on #${sha256(c.password)} ${rules}`;
  return [
    'user default off resetkeys resetchannels -@all',
    user(secrets.admin, '~* &* +@all'),
    user(secrets.replication, 'resetkeys resetchannels -@all +psync +replconf +ping'),
    user(
      secrets.app,
      [
        'resetkeys',
        ...APP_KEY_PATTERNS.map((p) => `~${p}`),
        'resetchannels',
        ...APP_CHANNELS.map((c) => `&${c}`),
        '-@all',
        ...APP_COMMANDS.map((c) => `+${c}`),
      ].join(' '),
    ),
  ];
}

/**
 * One cluster node. It runs in the foreground (`daemonize no`) under the supervisor, and rejoins its cluster from
 * its nodes.conf whenever it starts again.
 */
export function redisConfig(
  node: RedisNode,
  topology: Pick<Topology, 'redis'>,
  layout: StackLayout,
  secrets: StackSecrets['redis'],
): string {
  const name = redisProcessName(node);
  return [
    ...redisAclUsers(secrets),
    // A replica logs in to its master (after a failover, any node may be either).
    `masteruser ${secrets.replication.username}`,
    `masterauth ${secrets.replication.password}`,
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
  constructor(private readonly layout: StackLayout) {}

  /** The admin login: the stack's own tools never use the apps' user. */
  private get admin(): Credential {
    return requireSecrets(this.layout).redis.admin;
  }

  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    const secrets = requireSecrets(layout).redis;
    return topology.redis.nodes.map((node) => {
      const name = redisProcessName(node);
      mkdirSync(join(layout.data, name), { recursive: true });
      const conf = join(layout.conf, `${name}.conf`);
      // It holds masterauth: readable by its owner only.
      writeFileSync(conf, redisConfig(node, topology, layout, secrets), { mode: 0o600 });
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
      await run(
        'redis-cli',
        [
          ...['--user', this.admin.username],
          '--cluster',
          'create',
          ...nodes.map((n) => `${n.host}:${n.port}`),
          '--cluster-replicas',
          String(topology.redis.replicasPerMaster),
          '--cluster-yes',
        ],
        { env: this.cliEnv() },
      );
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
    const args = ['--user', this.admin.username, '-h', proc.host ?? '127.0.0.1', '-p', String(proc.port), 'SHUTDOWN'];
    await run('redis-cli', args, { check: false, timeoutMs: 10_000, env: this.cliEnv() });
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
    const login = ['--user', this.admin.username, '-h', node.host, '-p', String(node.port)];
    const res = await run('redis-cli', [...login, ...args], { timeoutMs: 5_000, env: this.cliEnv() });
    return res.stdout;
  }

  /** redis-cli takes the password from REDISCLI_AUTH: never on a command line that `ps` shows. */
  private cliEnv(): NodeJS.ProcessEnv {
    return { ...process.env, REDISCLI_AUTH: this.admin.password };
  }
}
