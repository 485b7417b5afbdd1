import type { StackLaunchSpec, StackProcess } from '@keyflow/testing';
import type { Endpoint, Topology } from '@keyflow/topology';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Health, ProcessControl, StartContext } from './stack-context';
import { StackError } from './stack.exception';
import { amqpUrl, inheritedEnv, postgresUrl, writeLaunchSpec } from './stack-file.util';
import { logFile, type StackLayout } from './stack-layout.util';
import { tail } from './util/log.util';
import { isAlive, run, spawnDetached, terminate } from './util/process.util';
import { httpStatus, waitUntil } from './util/wait.util';

export type AppKind = 'api' | 'worker';

export const APP_ENTRY: Record<AppKind, string> = {
  api: 'apps/api/src/main.ts',
  worker: 'apps/worker/src/main.ts',
};
export const MIGRATE_ENTRY = 'apps/worker/src/migrate.ts';
export const CREATE_ADMIN_ENTRY = 'apps/api/src/create-admin.ts';
export const APP_READY_TIMEOUT_MS = 90_000;

/** The connection URLs every app gets: the DB and the broker through HAProxy, Redis node by node. */
export function connectionEnv(topology: Topology): Record<string, string> {
  const { haproxy } = topology;
  return {
    AMQP_URL: amqpUrl(haproxy.host, haproxy.amqpPort),
    REDIS_NODES: topology.redis.nodes.map((n) => `${n.host}:${n.port}`).join(','),
    DATABASE_URL: postgresUrl(topology, haproxy.host, haproxy.dbWritePort),
    DATABASE_READ_URL: postgresUrl(topology, haproxy.host, haproxy.dbReadPort),
    KV_SHARDS: String(topology.worker.shards),
  };
}

/** The app config of one api or worker instance (validated by the app's own env schema at boot). */
export function appEnv(topology: Topology, instance: Endpoint): Record<string, string> {
  return {
    NODE_ENV: 'production',
    KEYFLOW_INSTANCE: instance.name,
    HOST: instance.host,
    PORT: String(instance.port),
    ...connectionEnv(topology),
  };
}

export function appLaunchSpec(
  kind: AppKind,
  instance: Endpoint,
  topology: Topology,
  layout: Pick<StackLayout, 'repoRoot' | 'logs'>,
  baseEnv: Record<string, string> = inheritedEnv(),
): StackLaunchSpec {
  return {
    name: instance.name,
    command: process.execPath,
    args: ['-r', '@swc-node/register', APP_ENTRY[kind]],
    env: {
      ...baseEnv,
      ...appEnv(topology, instance),
      ...(kind === 'api' ? { READS_REQUIRE_AUTH: String(topology.auth.readsRequireAuth) } : {}),
    },
    cwd: layout.repoRoot,
    logFile: join(layout.logs, `${instance.name}.log`),
    healthUrl: `http://${instance.host}:${instance.port}/health/ready`,
  };
}

/** The keyflow processes: migrations once, then every api and worker instance. */
export class AppsService implements ProcessControl {
  constructor(private readonly layout: StackLayout) {}

  private requireEntry(entry: string, what: string): void {
    if (!existsSync(join(this.layout.repoRoot, entry))) {
      throw new StackError(
        `${what}: ${entry} does not exist yet`,
        undefined,
        'the servers are up; start the apps once it exists',
      );
    }
  }

  async migrate({ topology, progress }: StartContext): Promise<void> {
    this.requireEntry(MIGRATE_ENTRY, 'migrations');
    const env = { ...inheritedEnv(), NODE_ENV: 'production', ...connectionEnv(topology) };
    const res = await run(process.execPath, ['-r', '@swc-node/register', MIGRATE_ENTRY], {
      cwd: this.layout.repoRoot,
      env,
      check: false,
      timeoutMs: 120_000,
    });
    if (res.code !== 0) {
      throw new StackError(`migrations failed (exit ${res.code})`, `${res.stdout}${res.stderr}`.trim());
    }
    progress.line('migrations', 'schema is current');
  }

  /** Creates the admin user and a fresh admin token; the token goes into stack.json (readable by its owner only). */
  async createAdmin({ topology, progress, record }: StartContext): Promise<void> {
    this.requireEntry(CREATE_ADMIN_ENTRY, 'admin user');
    const env = { ...inheritedEnv(), NODE_ENV: 'production', DATABASE_URL: connectionEnv(topology).DATABASE_URL };
    const res = await run(process.execPath, ['-r', '@swc-node/register', CREATE_ADMIN_ENTRY], {
      cwd: this.layout.repoRoot,
      env,
      check: false,
      timeoutMs: 60_000,
    });
    if (res.code !== 0) {
      throw new StackError(`creating the admin user failed (exit ${res.code})`, `${res.stdout}${res.stderr}`.trim());
    }
    const { username, token } = JSON.parse(res.stdout.trim().split('\n').at(-1) ?? '{}') as {
      username?: string;
      token?: string;
    };
    if (!username || !token) throw new StackError('create-admin printed no token', res.stdout.trim());
    record.setToken(token);
    progress.line('auth', `admin user "${username}" has a fresh API token (stack.json "token", mode 0600)`);
  }

  async start({ topology, progress, record }: StartContext): Promise<void> {
    this.requireEntry(APP_ENTRY.api, 'api');
    this.requireEntry(APP_ENTRY.worker, 'worker');
    const specs = [
      ...topology.api.instances.map((i) => ({
        kind: 'api' as const,
        spec: appLaunchSpec('api', i, topology, this.layout),
      })),
      ...topology.worker.instances.map((i) => ({
        kind: 'worker' as const,
        spec: appLaunchSpec('worker', i, topology, this.layout),
      })),
    ];
    const procs = specs.map(({ kind, spec }) => {
      writeLaunchSpec(this.layout, spec);
      const pid = spawnDetached(spec.command, spec.args, spec);
      const url = new URL(spec.healthUrl ?? '');
      const proc: StackProcess = {
        name: spec.name,
        pid,
        kind,
        host: url.hostname,
        port: Number(url.port),
        healthUrl: spec.healthUrl,
      };
      record.addProcess(proc);
      return proc;
    });
    progress.line('apps', `launched ${procs.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`);
    await this.waitReady(procs, APP_READY_TIMEOUT_MS);
    progress.line('apps', `${procs.length} processes ready`);
  }

  /** Waits for every health URL; on failure names the process and shows its log tail. */
  async waitReady(procs: StackProcess[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const results = await Promise.allSettled(
      procs.map((proc) =>
        waitUntil(
          async () => {
            if (!isAlive(proc.pid)) throw new StackError(`${proc.name} exited`);
            return (await httpStatus(proc.healthUrl ?? '')) === 200;
          },
          { timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 250, what: `${proc.healthUrl} to answer 200` },
        ),
      ),
    );
    const failed = procs.filter((_, i) => results[i]?.status === 'rejected');
    const first = failed[0];
    if (first) {
      const why = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
      const others = failed.slice(1).map((p) => logFile(this.layout, p.name));
      throw new StackError(
        `${failed.map((p) => p.name).join(', ')} did not become ready: ${why.join('; ')}`,
        `last lines of ${logFile(this.layout, first.name)}:\n${tail(logFile(this.layout, first.name))}`,
        others.length ? `the other logs: ${others.join(', ')}` : undefined,
      );
    }
  }

  async stop(proc: StackProcess): Promise<string> {
    return terminate(proc.pid, 10_000);
  }

  async health(proc: StackProcess): Promise<Health> {
    if (!proc.healthUrl) return { healthy: false, detail: 'no health URL recorded' };
    const status = await httpStatus(proc.healthUrl);
    return { healthy: status === 200, detail: `GET ${new URL(proc.healthUrl).pathname} → ${status ?? 'no answer'}` };
  }
}
