import { KeyflowClient, KeyflowProblem } from '@keyflow/client';
import type { StackLaunchSpec, StackProcess } from '@keyflow/testing';
import type { Endpoint, Topology } from '@keyflow/topology';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_BUILD, AppBuildService, compiledPath, WORKER_BUILD } from './build/app-build.service';
import type { Health, StackComponent, StartContext, SupervisedProcess } from './stack-context';
import { StackError } from './stack.exception';
import { requireSecrets, type StackSecrets } from './secrets.util';
import { amqpUrl, inheritedEnv, postgresUrl, writeJsonAtomic, writeLaunchSpec } from './stack-file.util';
import { logFile, type StackLayout } from './stack-layout.util';
import { tail } from './util/log.util';
import { run, terminate } from './util/process.util';
import { httpStatus, waitUntil } from './util/wait.util';

export type AppKind = 'api' | 'worker';

/**
 * The compiled entry points the stack runs (relative to the repository root), never the TypeScript sources:
 * `node dist/apps/api/apps/api/src/main.js`, with no TypeScript loader (`-r @swc-node/register`) at run time.
 */
export const APP_ENTRY: Record<AppKind, string> = {
  api: compiledPath(API_BUILD, 'apps/api/src/main.ts'),
  worker: compiledPath(WORKER_BUILD, 'apps/worker/src/main.ts'),
};
export const MIGRATE_ENTRY = compiledPath(WORKER_BUILD, 'apps/worker/src/migrate.ts');
export const CREATE_ADMIN_ENTRY = compiledPath(API_BUILD, 'apps/api/src/create-admin.ts');
export const APP_READY_TIMEOUT_MS = 90_000;

/** The Node arguments that run a compiled entry: the file alone, no `-r` preloads. */
export function nodeArgs(entry: string): string[] {
  return [entry];
}

/**
 * The connection settings every app gets: the DB and the broker through HAProxy, Redis node by node, each with the
 * apps' own login from the stack's secrets (the application role, the `keyflow` vhost's user, the Redis ACL user).
 */
export function connectionEnv(topology: Topology, secrets: StackSecrets): Record<string, string> {
  const { haproxy } = topology;
  const db = secrets.postgres.app;
  return {
    AMQP_URL: amqpUrl(haproxy.host, haproxy.amqpPort, secrets.rabbitmq),
    REDIS_NODES: topology.redis.nodes.map((n) => `${n.host}:${n.port}`).join(','),
    REDIS_USERNAME: secrets.redis.app.username,
    REDIS_PASSWORD: secrets.redis.app.password,
    DATABASE_URL: postgresUrl(topology, haproxy.host, haproxy.dbWritePort, db),
    DATABASE_READ_URL: postgresUrl(topology, haproxy.host, haproxy.dbReadPort, db),
    KV_SHARDS: String(topology.worker.shards),
  };
}

/** The app config of one api or worker instance (validated by the app's own env schema at boot). */
export function appEnv(topology: Topology, instance: Endpoint, secrets: StackSecrets): Record<string, string> {
  return {
    NODE_ENV: 'production',
    KEYFLOW_INSTANCE: instance.name,
    HOST: instance.host,
    PORT: String(instance.port),
    ...connectionEnv(topology, secrets),
  };
}

export function appLaunchSpec(
  kind: AppKind,
  instance: Endpoint,
  topology: Topology,
  layout: Pick<StackLayout, 'repoRoot' | 'logs' | 'topologyFile'>,
  secrets: StackSecrets,
  baseEnv: Record<string, string> = inheritedEnv(),
): StackLaunchSpec {
  const prometheus = topology.monitoring?.prometheus;
  return {
    name: instance.name,
    command: process.execPath,
    args: nodeArgs(APP_ENTRY[kind]),
    env: {
      ...baseEnv,
      ...appEnv(topology, instance, secrets),
      ...(kind === 'api'
        ? {
            READS_REQUIRE_AUTH: String(topology.auth.readsRequireAuth),
            // The gateways connect from their own addresses (nginx `proxy_bind $server_addr`): only they are believed.
            // A request through the edge pair reached a gateway at its address on the edge's bridge.
            TRUSTED_PROXIES: [
              ...topology.gateway.instances.map((g) => g.host),
              ...(topology.edge?.network?.gatewayAddresses ?? []),
            ].join(','),
            // GET /v1/admin/cluster checks every process this file lists.
            CLUSTER_TOPOLOGY: layout.topologyFile,
            // GET /v1/admin/metrics charts the stack's Prometheus, when the topology runs one.
            ...(prometheus ? { PROMETHEUS_URL: `http://${prometheus.host}:${prometheus.port}` } : {}),
          }
        : {}),
    },
    cwd: layout.repoRoot,
    logFile: join(layout.logs, `${instance.name}.log`),
    healthUrl: `http://${instance.host}:${instance.port}/health/ready`,
  };
}

/**
 * The keyflow processes: the build (started by `prepare`, so it compiles while the servers start), migrations once,
 * then every api and worker instance, all from the compiled output.
 */
export class AppsService implements StackComponent {
  private readonly build: AppBuildService;

  constructor(
    private readonly layout: StackLayout,
    build?: AppBuildService,
  ) {
    this.build = build ?? new AppBuildService(layout.repoRoot, join(layout.logs, 'build.log'));
  }

  /** Every app step waits for the build first: nothing runs from a `dist/` older than the source. */
  private async built(progress: StartContext['progress']): Promise<void> {
    await this.build.wait(progress);
  }

  private requireEntry(entry: string, what: string): void {
    if (!existsSync(join(this.layout.repoRoot, entry))) {
      throw new StackError(
        `${what}: the build wrote no ${entry}`,
        undefined,
        `the servers are up; check the build target's outputPath in project.json and ${join(this.layout.logs, 'build.log')}`,
      );
    }
  }

  async migrate({ topology, progress }: StartContext): Promise<void> {
    await this.built(progress);
    this.requireEntry(MIGRATE_ENTRY, 'migrations');
    const env = { ...inheritedEnv(), NODE_ENV: 'production', ...connectionEnv(topology, requireSecrets(this.layout)) };
    const res = await run(process.execPath, nodeArgs(MIGRATE_ENTRY), {
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

  /**
   * The admin's API token, kept in `data/admin-token.json` (mode 0600) so it outlives stop and start: made once
   * (the admin user with a random password nobody learns, and a token), then reused; made again only if it no
   * longer works (revoked, or the data was reset).
   */
  async ensureAdmin({ topology, progress, record }: StartContext, { verify }: { verify: boolean }): Promise<void> {
    const file = join(this.layout.data, 'admin-token.json');
    if (existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { username?: string; token?: string };
      if (saved.token && (!verify || (await this.tokenWorks(topology, saved.token)))) {
        record.setToken(saved.token);
        if (!verify) progress.line('auth', `admin token kept from ${file}`);
        return;
      }
      progress.line('auth', 'the saved admin token no longer works: making a new one');
    } else if (verify) {
      return;
    }
    await this.built(progress);
    this.requireEntry(CREATE_ADMIN_ENTRY, 'admin user');
    const { DATABASE_URL } = connectionEnv(topology, requireSecrets(this.layout));
    const env = { ...inheritedEnv(), NODE_ENV: 'production', DATABASE_URL };
    const res = await run(process.execPath, nodeArgs(CREATE_ADMIN_ENTRY), {
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
    writeJsonAtomic(file, { username, token });
    record.setToken(token);
    progress.line('auth', `admin user "${username}" has a new API token (stack.json "token", mode 0600)`);
  }

  private async tokenWorks(topology: Topology, token: string): Promise<boolean> {
    const api = topology.api.instances[0];
    if (!api) return true;
    const client = new KeyflowClient({
      baseUrl: `http://${api.host}:${api.port}`,
      token,
      timeoutMs: 5_000,
      retry: { attempts: 1 },
    });
    try {
      await client.me();
      return true;
    } catch (error) {
      // Only the API's own "who?" says the token is gone; an API that is not up yet proves nothing.
      return !(error instanceof KeyflowProblem && error.status === 401);
    }
  }

  /** Also starts compiling the apps in the background; `migrate` (the first app step of `up`) waits for it. */
  prepare({ topology, layout }: Pick<StartContext, 'topology' | 'layout'>): SupervisedProcess[] {
    this.build.start();
    const kinds: Array<{ kind: AppKind; instances: Endpoint[] }> = [
      { kind: 'api', instances: topology.api.instances },
      { kind: 'worker', instances: topology.worker.instances },
    ];
    return kinds.flatMap(({ kind, instances }) =>
      instances.map((instance) => {
        const spec = appLaunchSpec(kind, instance, topology, layout, requireSecrets(layout));
        // For benchmarks that run an instance with other settings outside the supervisor (runUnsupervised).
        writeLaunchSpec(layout, spec);
        const url = new URL(spec.healthUrl ?? '');
        return {
          spec: {
            name: spec.name,
            group: 'apps',
            command: spec.command,
            args: spec.args,
            env: spec.env,
            cwd: spec.cwd,
            priority: 300,
            // Up for 5 s counts as started; an app that cannot reach a dependency exits at once and is retried.
            startSecs: 5,
            startRetries: 8,
            stopWaitSecs: 15,
          },
          proc: { name: spec.name, kind, host: url.hostname, port: Number(url.port), healthUrl: spec.healthUrl },
        };
      }),
    );
  }

  async ensure({ topology, record, progress, supervisor }: StartContext): Promise<void> {
    await this.built(progress);
    this.requireEntry(APP_ENTRY.api, 'api');
    this.requireEntry(APP_ENTRY.worker, 'worker');
    await supervisor.startGroup('apps');
    const names = new Set([...topology.api.instances, ...topology.worker.instances].map((i) => i.name));
    const procs = record.current.processes.filter((p) => names.has(p.name));
    await this.waitReady(procs, APP_READY_TIMEOUT_MS);
    progress.line('apps', `${procs.map((p) => p.name).join(', ')} ready`);
  }

  /** Waits for every health URL; on failure names the process and shows its log tail. */
  async waitReady(procs: StackProcess[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const results = await Promise.allSettled(
      procs.map((proc) =>
        waitUntil(
          async () => {
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
