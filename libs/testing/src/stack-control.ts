import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The contract of `<stackDir>/stack.json`, written by `tools/stack` (`npm start`, `npm test`) and read by
 * integration and e2e tests. Every URL points at loopback; every process listed belongs to the stack.
 */
export type StackProcessKind =
  'api' | 'worker' | 'nginx' | 'haproxy' | 'named' | 'redis' | 'rabbitmq' | 'epmd' | 'postgres';

export interface StackProcess {
  /** Says what it is: `api-1`, `worker-2`, `nginx`, `haproxy`, `redis-7001`, `rabbitmq-rmq1`, `epmd`, `postgres-primary`. */
  name: string;
  pid: number;
  kind: StackProcessKind;
  host?: string;
  port?: number;
  /** Every TCP port it listens on, where that is more than `port` (HAProxy, nginx). */
  ports?: number[];
  /** HTTP URL that answers 200 when the process is ready (apps and the gateway). */
  healthUrl?: string;
  /** RabbitMQ node name (`rmq1@localhost`) and its management port. */
  node?: string;
  managementPort?: number;
  /** PostgreSQL data directory. */
  dataDir?: string;
}

export interface StackDbUrls {
  primary: string;
  replica: string;
  replicas: string[];
  /** Through HAProxy: always the current primary. */
  write: string;
  /** Through HAProxy: the replicas (the primary as a backup). */
  read: string;
}

export interface StackInfo {
  /** `starting` while `up` runs, `up` once everything answered its health check, `failed` if `up` gave up. */
  state: 'starting' | 'up' | 'failed';
  name: string;
  topology: string;
  stackDir: string;
  startedAt: string;
  gateway: string;
  gateways: string[];
  apis: string[];
  workers: string[];
  management: string;
  managementUser: string;
  managementPassword: string;
  /** Direct node URLs, one per RabbitMQ node. */
  amqp: string[];
  /** Through HAProxy. */
  amqpGateway: string;
  /** `host:port` of every Redis cluster node. */
  redis: string[];
  db: StackDbUrls;
  haproxyStats: string;
  /** The admin user's API token (`Authorization: Bearer …`); set once the admin user exists. */
  token?: string;
  /** The DNS server answering for the gateways' name, when the topology runs one. */
  dns?: { server: string; name: string };
  processes: StackProcess[];
}

/** `<stackDir>/run/<name>.json`: everything needed to relaunch a Node process exactly as `up` did. */
export interface StackLaunchSpec {
  name: string;
  command: string;
  args: string[];
  /** The complete environment the process gets (not merged with the caller's). */
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  healthUrl?: string;
}

function repoRoot(from = process.cwd()): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) return from;
  }
}

/** `KEYFLOW_STACK_FILE`, or the default local stack's `<repo>/.keyflow/stack.json`. */
export function stackFilePath(): string {
  return process.env['KEYFLOW_STACK_FILE'] ?? join(repoRoot(), '.keyflow', 'stack.json');
}

export function readStack(file = stackFilePath()): StackInfo {
  if (!existsSync(file)) {
    throw new Error(`no stack at ${file}: start one with \`npm start\` (or run the tests with \`npm test\`)`);
  }
  return JSON.parse(readFileSync(file, 'utf8')) as StackInfo;
}

function writeStack(info: StackInfo, file: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}

function findProcess(info: StackInfo, name: string): StackProcess {
  const found = info.processes.find((p) => p.name === name);
  if (!found)
    throw new Error(`no process "${name}" in the stack (have: ${info.processes.map((p) => p.name).join(', ')})`);
  return found;
}

export function isAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed child of ours stays a zombie until reaped; it is gone for every purpose here.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends `signal` to a stack process and resolves once it is gone. */
export async function killProcess(
  name: string,
  signal: NodeJS.Signals = 'SIGKILL',
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  const proc = findProcess(readStack(), name);
  if (!isAlive(proc.pid)) return;
  process.kill(proc.pid, signal);
  await waitUntil(() => !isAlive(proc.pid), timeoutMs, `${name} (pid ${proc.pid}) to exit`);
}

/**
 * Relaunches a Node process (api, worker) from `run/<name>.json`, detached, appending to its log, and records
 * the new pid in stack.json. Resolves with the pid once the process is alive; pass `waitForHealth` to also
 * wait for its health URL, and `env` to override variables of the recorded environment (benchmarks do).
 */
export async function startProcess(
  name: string,
  {
    waitForHealth = false,
    timeoutMs = 60_000,
    env = {},
  }: { waitForHealth?: boolean; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<number> {
  const file = stackFilePath();
  const info = readStack(file);
  const proc = findProcess(info, name);
  if (isAlive(proc.pid)) throw new Error(`${name} is still running (pid ${proc.pid}); kill it first`);
  const spec = JSON.parse(readFileSync(join(info.stackDir, 'run', `${name}.json`), 'utf8')) as StackLaunchSpec;
  const log = openSync(spec.logFile, 'a');
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: { ...spec.env, ...env },
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not launch ${name}: ${spec.command} ${spec.args.join(' ')}`);
  child.unref();

  const latest = readStack(file);
  writeStack({ ...latest, processes: latest.processes.map((p) => (p.name === name ? { ...p, pid } : p)) }, file);
  await waitUntil(() => isAlive(pid), 5_000, `${name} to start`);
  const healthUrl = spec.healthUrl ?? proc.healthUrl;
  if (waitForHealth && healthUrl) await waitForHttp(healthUrl, { timeoutMs });
  return pid;
}

/** Polls `url` until it answers `status` (200 by default). */
export async function waitForHttp(
  url: string,
  { timeoutMs = 30_000, status = 200 }: { timeoutMs?: number; status?: number } = {},
): Promise<void> {
  await waitUntil(
    async () => {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        await res.body?.cancel();
        return res.status === status;
      } catch {
        return false;
      }
    },
    timeoutMs,
    `${url} to answer ${status}`,
  );
}

/** `Authorization: Bearer <the stack's admin token>`, for tests and tools that call the API as the admin. */
export function adminAuthHeaders(info: StackInfo = readStack()): { authorization: string } {
  if (!info.token) throw new Error(`the stack at ${info.stackDir} has no admin token in stack.json; restart it`);
  return { authorization: `Bearer ${info.token}` };
}
