import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { loadTopology } from '@keyflow/topology';
import type { StackInfo } from '../cli/stack-info.util';
import { redisNodeClient, type RedisLogin } from './memory-sampler.service';
import { managementApiOf, type ManagementApi } from './queue-depth.service';
import {
  counterDelta,
  parseCommandStats,
  parseRuntimeThreadStats,
  sumByKey,
  type RabbitIoStat,
  type RedisCommandStat,
  type StatementStat,
  type ThreadTypeStats,
} from './server-profile.util';

const execFileAsync = promisify(execFile);
const RABBITMQ_DIAGNOSTICS = '/usr/lib/rabbitmq/bin/rabbitmq-diagnostics';
/** How long `runtime_thread_stats` samples each node: long enough to average out a batch cycle, short of a run. */
const THREAD_STATS_SECONDS = 10;
const TOP_STATEMENTS = 8;

/** What each server did during one write run; a section is an error message when it could not be read. */
export interface ServerProfile {
  seconds: number;
  redis: { commands: RedisCommandStat[] } | { error: string };
  postgres: { statements: StatementStat[] } | { error: string };
  rabbitmq: { io: RabbitIoStat[]; threads: Record<string, ThreadTypeStats | string> } | { error: string };
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Every Redis node's command counters (masters and replicas: a replica applies the writes too). */
async function redisSnapshot(nodes: readonly string[], login?: RedisLogin): Promise<RedisCommandStat[]> {
  const all = await Promise.all(
    nodes.map(async (node) => {
      const client = redisNodeClient(node, login);
      try {
        return parseCommandStats(await client.info('commandstats'));
      } finally {
        client.disconnect();
      }
    }),
  );
  return sumByKey(all.flat(), (s) => s.command, ['calls', 'usec']);
}

async function statementSnapshot(url: string): Promise<StatementStat[]> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ queryid: string; query: string; calls: string; total: number; rows: string }>(
      `SELECT queryid::text AS queryid, query, calls::text AS calls, total_exec_time AS total, rows::text AS rows
         FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    return rows.map((r) => ({
      queryId: r.queryid,
      query: r.query,
      calls: Number(r.calls),
      totalMs: r.total,
      rows: Number(r.rows),
    }));
  } finally {
    await client.end();
  }
}

async function rabbitIoSnapshot(api: ManagementApi): Promise<RabbitIoStat[]> {
  const url = `${api.url.replace(/\/+$/, '')}/api/nodes?columns=name,io_sync_count,io_write_count,io_write_bytes`;
  const response = await fetch(url, {
    headers: { authorization: `Basic ${Buffer.from(`${api.user}:${api.password}`).toString('base64')}` },
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) throw new Error(`${url}: status ${response.status}`);
  const nodes = (await response.json()) as Array<Record<string, unknown>>;
  return nodes.map((n) => ({
    node: String(n.name),
    fsyncs: Number(n.io_sync_count ?? 0),
    writes: Number(n.io_write_count ?? 0),
    writeBytes: Number(n.io_write_bytes ?? 0),
  }));
}

/**
 * `rabbitmq-diagnostics runtime_thread_stats` on every node of the stack's cluster, with the environment the
 * stack gives its own rabbitmqctl calls (shared HOME for the Erlang cookie, the private epmd, the CLI's dist ports).
 */
async function threadStats(stack: StackInfo): Promise<Record<string, ThreadTypeStats | string>> {
  const topologyFile = stack.topology;
  if (topologyFile === undefined || stack.stackDir === undefined) {
    return { all: 'stack.json names no topology or stackDir' };
  }
  const topology = loadTopology(topologyFile);
  const results = await Promise.all(
    topology.rabbitmq.nodes.map(async (node): Promise<[string, ThreadTypeStats | string]> => {
      const name = `${node.name}@localhost`;
      try {
        const { stdout } = await execFileAsync(
          RABBITMQ_DIAGNOSTICS,
          ['-n', name, 'runtime_thread_stats', '--sample-interval', String(THREAD_STATS_SECONDS)],
          {
            timeout: (THREAD_STATS_SECONDS + 30) * 1000,
            env: {
              ...process.env,
              HOME: join(stack.stackDir!, 'data', 'rabbitmq'),
              ERL_EPMD_PORT: String(topology.rabbitmq.epmdPort),
              RABBITMQ_CTL_DIST_PORT_MIN: String(node.distPort + 10000),
              RABBITMQ_CTL_DIST_PORT_MAX: String(node.distPort + 10010),
              LANG: 'C.UTF-8',
              LC_ALL: 'C.UTF-8',
            },
          },
        );
        const parsed = parseRuntimeThreadStats(stdout);
        return [name, Object.keys(parsed).length > 0 ? parsed : `unreadable output: ${stdout.slice(0, 200)}`];
      } catch (error: unknown) {
        return [name, message(error)];
      }
    }),
  );
  return Object.fromEntries(results);
}

async function settle<T>(promise: Promise<T>): Promise<T | { error: string }> {
  try {
    return await promise;
  } catch (error: unknown) {
    return { error: message(error) };
  }
}

const isError = (value: unknown): value is { error: string } =>
  typeof value === 'object' && value !== null && 'error' in value;

/**
 * Snapshots the servers' counters when a write run starts and again when its backlog is applied, and samples
 * RabbitMQ's scheduler threads a few seconds into the run. The differences are the run's profile: Redis commands
 * and their time, PostgreSQL statements and their time, RabbitMQ fsyncs and bytes written, and where the brokers'
 * scheduler threads spend their time. Reading them costs little next to a run (a few queries, three short-lived
 * Erlang CLI VMs).
 */
export class ServerProfiler {
  private constructor(
    private readonly stack: StackInfo,
    private readonly startedAt: number,
    private readonly redis: RedisCommandStat[] | { error: string },
    private readonly statements: StatementStat[] | { error: string },
    private readonly io: RabbitIoStat[] | { error: string },
    private readonly threads: Promise<Record<string, ThreadTypeStats | string>>,
  ) {}

  static async open(stack: StackInfo, threadStatsDelayMs = 5000): Promise<ServerProfiler> {
    const api = managementApiOf(stack);
    const dbUrl = stack.db?.write;
    const [redis, statements, io] = await Promise.all([
      settle(redisSnapshot(stack.redis, stack.credentials?.redis.admin)),
      dbUrl === undefined ? { error: 'stack.json has no db.write URL' } : settle(statementSnapshot(dbUrl)),
      api === undefined ? { error: 'stack.json has no management API' } : settle(rabbitIoSnapshot(api)),
    ]);
    const threads = new Promise<void>((resolve) => setTimeout(resolve, threadStatsDelayMs).unref()).then(() =>
      threadStats(stack),
    );
    return new ServerProfiler(stack, performance.now(), redis, statements, io, threads);
  }

  async close(): Promise<ServerProfile> {
    const api = managementApiOf(this.stack);
    const dbUrl = this.stack.db?.write;
    const [redis, statements, io, threads] = await Promise.all([
      settle(redisSnapshot(this.stack.redis, this.stack.credentials?.redis.admin)),
      dbUrl === undefined ? { error: 'no db.write URL' } : settle(statementSnapshot(dbUrl)),
      api === undefined ? { error: 'no management API' } : settle(rabbitIoSnapshot(api)),
      this.threads,
    ]);
    const seconds = (performance.now() - this.startedAt) / 1000;
    return {
      seconds,
      redis:
        isError(this.redis) || isError(redis)
          ? { error: isError(redis) ? redis.error : (this.redis as { error: string }).error }
          : { commands: counterDelta(this.redis, redis, (s) => s.command, ['calls', 'usec']) },
      postgres:
        isError(this.statements) || isError(statements)
          ? { error: isError(statements) ? statements.error : (this.statements as { error: string }).error }
          : {
              statements: counterDelta(this.statements, statements, (s) => s.queryId, ['calls', 'totalMs', 'rows'])
                .sort((a, b) => b.totalMs - a.totalMs)
                .slice(0, TOP_STATEMENTS),
            },
      rabbitmq:
        isError(this.io) || isError(io)
          ? { error: isError(io) ? io.error : (this.io as { error: string }).error }
          : { io: counterDelta(this.io, io, (s) => s.node, ['fsyncs', 'writes', 'writeBytes']), threads },
    };
  }
}
