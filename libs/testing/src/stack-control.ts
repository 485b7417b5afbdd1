import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * The contract of `<stackDir>/stack.json`, written by `tools/stack` (`npm start`, `npm test`) and read by
 * integration and e2e tests. Every URL points at loopback; every process listed belongs to the stack.
 */
export type StackProcessKind =
  'api' | 'worker' | 'nginx' | 'haproxy' | 'named' | 'redis' | 'rabbitmq' | 'epmd' | 'postgres' | 'etcd';

/**
 * Every process of a stack runs under the stack's own supervisord, which sets this variable in its environment;
 * the programs (and what they start) inherit it. It is how a stack finds its processes even when stack.json's
 * pids are stale or supervisord itself was killed.
 */
export const STACK_DIR_ENV = 'KEYFLOW_STACK_DIR';

export interface StackProcess {
  /** Says what it is: `api-1`, `worker-2`, `nginx`, `haproxy`, `redis-7001`, `rabbitmq-rmq1`, `epmd`, `postgres-pg-1`, `etcd`. */
  name: string;
  /**
   * The pid when stack.json was last written (by `up` or `status`). The supervisor restarts crashed processes
   * with new pids: `currentPid(name)` and `npm run status -- --json` are the source of truth.
   */
  pid: number;
  /** The supervisor's name for it: `apps:api-1`, `postgres:postgres-pg-1`, `haproxy`. */
  program?: string;
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
  /** Patroni's REST port (PostgreSQL nodes): `/primary`, `/replica`, `/health`, `/cluster`. */
  restApiPort?: number;
}

export interface StackDbUrls {
  /** The current primary, through HAProxy (the same as `write`: the primary moves on failover). */
  primary: string;
  /** Through HAProxy's read port (the same as `read`). */
  replica: string;
  /** Every PostgreSQL node, directly. */
  replicas: string[];
  /** Through HAProxy: always the current primary. */
  write: string;
  /** Through HAProxy: the replicas (the primary as a backup). */
  read: string;
}

export interface StackInfo {
  /**
   * `starting` while `up` runs, `up` once everything answered its health check, `failed` if `up` gave up,
   * `stopped` after `down` (the data is kept; so is the admin token below).
   */
  state: 'starting' | 'up' | 'failed' | 'stopped';
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
  /** The stack's supervisord: its config file is what `supervisorctl -c` needs. */
  supervisor: { config: string };
  /** Patroni's REST API of every PostgreSQL node (`GET /cluster` shows who leads). */
  patroni: string[];
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

/** `supervisorctl -c <the stack's config> <args>`; resolves with its output whatever its exit code. */
export async function supervisorctl(args: string[], info: StackInfo = readStack()): Promise<string> {
  try {
    const { stdout } = await execFileAsync('supervisorctl', ['-c', info.supervisor.config, ...args], {
      timeout: 120_000,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: unknown };
    if (typeof e.stdout === 'string') return e.stdout + (e.stderr ?? '');
    throw err;
  }
}

/** The pid the supervisor runs `name` as now, or 0 when it is not running. */
export async function currentPid(name: string, info: StackInfo = readStack()): Promise<number> {
  const proc = findProcess(info, name);
  const out = await supervisorctl(['pid', proc.program ?? name], info);
  const pid = Number.parseInt(out.trim(), 10);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : 0;
}

/**
 * Every live pid (but ours) of the stack in `stackDir`: those whose environment carries its marker, and all their
 * descendants (Redis and nginx overwrite their environment with their process title, but are the supervisor's
 * children).
 */
export function stackProcessIds(stackDir: string): number[] {
  const marker = `${STACK_DIR_ENV}=${stackDir}`;
  const parentOf = new Map<number, number>();
  const found = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const pid = Number(entry);
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(marker)) found.add(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, parent] of parentOf) {
      if (!found.has(pid) && found.has(parent)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found].filter((pid) => isAlive(pid));
}

/** The process group of `pid` (the supervisor makes each program a group leader), or undefined when it is gone. */
export function processGroup(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  const group = processGroup(pid);
  try {
    if (group && group > 1 && group !== processGroup(process.pid)) process.kill(-group, signal);
    else process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/**
 * Sends `signal` to a stack process — its whole process group, so nginx dies with its workers, as when a node is
 * lost; for a PostgreSQL node, Patroni and its PostgreSQL (which Patroni runs in a session of its own) — and
 * resolves with the old pid once all of it is gone. The supervisor restarts it: `startProcess` waits for that.
 */
export async function killProcess(
  name: string,
  signal: NodeJS.Signals = 'SIGKILL',
  { timeoutMs = 30_000 }: { timeoutMs?: number } = {},
): Promise<number> {
  const info = readStack();
  const proc = findProcess(info, name);
  const pid = await currentPid(name, info);
  if (!pid) return 0;
  const postmaster = proc.dataDir ? postmasterPid(proc.dataDir) : undefined;
  const groups = [pid, postmaster]
    .filter((p): p is number => p !== undefined && isAlive(p))
    .map((p) => processGroup(p))
    .filter((g): g is number => g !== undefined);
  for (const target of [pid, postmaster]) if (target !== undefined) signalGroup(target, signal);
  await waitUntil(
    () => !isAlive(pid) && groups.every((g) => !groupAlive(g)),
    timeoutMs,
    `${name} (pid ${pid}) to exit`,
  );
  return pid;
}

/** The process groups of a stack process: its own, and for a PostgreSQL node its PostgreSQL's too. */
export async function processGroups(name: string, info: StackInfo = readStack()): Promise<number[]> {
  const proc = findProcess(info, name);
  const pids = [await currentPid(name, info), proc.dataDir ? postmasterPid(proc.dataDir) : undefined];
  const groups = pids.filter((p): p is number => !!p).map((p) => processGroup(p));
  return [...new Set(groups.filter((g): g is number => g !== undefined && g > 1))];
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGKILLs every process of the stack at once, supervisord included, as a power loss would. */
export function killWholeStack(info: StackInfo = readStack()): number[] {
  // The supervisor first, or it would start again what dies before it.
  const supervisord = Number.parseInt(readFileSync(join(info.stackDir, 'run', 'supervisord.pid'), 'utf8'), 10);
  if (supervisord > 0 && isAlive(supervisord)) process.kill(supervisord, 'SIGKILL');
  const pids = stackProcessIds(info.stackDir);
  // Groups too: nginx workers drop the environment, but share their master's group.
  const groups = new Set(pids.map((p) => processGroup(p)).filter((g): g is number => !!g && g > 1));
  groups.delete(processGroup(process.pid) ?? -1);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return pids;
}

/** Stops a process through the supervisor (it stays stopped until `startProcess`). */
export async function stopProcess(name: string): Promise<void> {
  const info = readStack();
  const proc = findProcess(info, name);
  await supervisorctl(['stop', proc.program ?? name], info);
}

/**
 * Makes sure the supervisor runs `name` (starting it if it was stopped, or waiting while it restarts it after a
 * crash) and resolves with its pid; pass `waitForHealth` to also wait for its health URL.
 */
export async function startProcess(
  name: string,
  { waitForHealth = false, timeoutMs = 90_000 }: { waitForHealth?: boolean; timeoutMs?: number } = {},
): Promise<number> {
  const info = readStack();
  const proc = findProcess(info, name);
  let pid = 0;
  await waitUntil(
    async () => {
      pid = await currentPid(name, info);
      if (pid) return true;
      const out = await supervisorctl(['status', proc.program ?? name], info);
      // STOPPED, EXITED or FATAL: start it; STARTING or BACKOFF: the supervisor is at it already.
      if (/\b(STOPPED|EXITED|FATAL)\b/.test(out)) await supervisorctl(['start', proc.program ?? name], info);
      return false;
    },
    timeoutMs,
    `${name} to run again`,
  );
  if (waitForHealth && proc.healthUrl) await waitForHttp(proc.healthUrl, { timeoutMs });
  return pid;
}

/**
 * Runs a Node process (api, worker) outside the supervisor, from `run/<name>.json` with `env` overriding its
 * recorded environment, after stopping the supervised one (benchmarks compare settings this way). Resolves
 * with its pid once its health URL answers; `startProcess(name)` afterwards needs the returned pid killed first.
 */
export async function runUnsupervised(
  name: string,
  { env = {}, timeoutMs = 60_000 }: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<number> {
  const info = readStack();
  const proc = findProcess(info, name);
  await stopProcess(name);
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
  const healthUrl = spec.healthUrl ?? proc.healthUrl;
  if (healthUrl) await waitForHttp(healthUrl, { timeoutMs });
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

/** The PostgreSQL node Patroni has made primary now (its REST API answers 200 on `/primary`), if any. */
export async function postgresPrimary(info: StackInfo = readStack()): Promise<StackProcess | undefined> {
  for (const proc of info.processes.filter((p) => p.kind === 'postgres')) {
    try {
      const res = await fetch(`http://${proc.host ?? '127.0.0.1'}:${proc.restApiPort}/primary`, {
        signal: AbortSignal.timeout(2_000),
      });
      await res.body?.cancel();
      if (res.status === 200) return proc;
    } catch {
      // not answering
    }
  }
  return undefined;
}
