import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pollUntil } from './poll-until.util';
import { childPids, isAlive, processGroup, stackProcessIds } from './process.util';
import {
  readStack,
  type StackInfo,
  type StackLaunchSpec,
  type StackProcess,
  type StackProcessKind,
} from './stack-contract';

// Test-only control of a running stack (failure tests, benchmarks): kill, stop, start and relaunch its processes
// through its supervisor. The `stack.json` contract itself is in `stack-contract.ts`.

const execFileAsync = promisify(execFile);

function findProcess(info: StackInfo, name: string): StackProcess {
  const found = info.processes.find((p) => p.name === name);
  if (!found)
    throw new Error(`no process "${name}" in the stack (have: ${info.processes.map((p) => p.name).join(', ')})`);
  return found;
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
  await pollUntil(() => Promise.resolve(!isAlive(pid) && groups.every((g) => !groupAlive(g))), Boolean, {
    timeoutMs,
    what: `${name} (pid ${pid}) to exit`,
  });
  return pid;
}

/** The process groups of a stack process: its own, and for a PostgreSQL node its PostgreSQL's too. */
export async function processGroups(name: string, info: StackInfo = readStack()): Promise<number[]> {
  const proc = findProcess(info, name);
  const pids = [await currentPid(name, info), proc.dataDir ? postmasterPid(proc.dataDir) : undefined];
  const groups = pids.filter((p): p is number => !!p).map((p) => processGroup(p));
  return [...new Set(groups.filter((g): g is number => g !== undefined && g > 1))];
}

/**
 * Freezes a stack process with SIGSTOP, as a hung node (not a dead one: the supervisor cannot tell): its process
 * groups, and for a PostgreSQL node every child of the postmaster too — PostgreSQL puts each backend and WAL
 * sender in a session of its own. Resolves with the function that resumes all of it (SIGCONT).
 */
export async function freezeProcess(name: string, info: StackInfo = readStack()): Promise<() => void> {
  const proc = findProcess(info, name);
  const groups = await processGroups(name, info);
  const postmaster = proc.dataDir ? postmasterPid(proc.dataDir) : undefined;
  const children = postmaster ? childPids(postmaster) : [];
  const send = (signal: NodeJS.Signals): void => {
    for (const group of groups) signalQuietly(-group, signal);
    for (const pid of children) signalQuietly(pid, signal);
  };
  send('SIGSTOP');
  return () => send('SIGCONT');
}

function signalQuietly(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal);
  } catch {
    // gone
  }
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
  const pid = await pollUntil(
    async () => {
      const running = await currentPid(name, info);
      if (running) return running;
      const out = await supervisorctl(['status', proc.program ?? name], info);
      // STOPPED, EXITED or FATAL: start it; STARTING or BACKOFF: the supervisor is at it already.
      if (/\b(STOPPED|EXITED|FATAL)\b/.test(out)) await supervisorctl(['start', proc.program ?? name], info);
      return 0;
    },
    (running) => running > 0,
    { timeoutMs, what: `${name} to run again` },
  );
  if (waitForHealth && proc.healthUrl) await waitForHttp(proc.healthUrl, { timeoutMs });
  return pid;
}

/**
 * For an `afterAll` of a suite that stops or kills processes: makes sure every stack process of `kind` (every one
 * when omitted) runs again, one at a time, ignoring failures, so the suites after it find the stack whole.
 */
export async function restoreProcesses({
  kind,
  waitForHealth = false,
  timeoutMs = 120_000,
}: { kind?: StackProcessKind; waitForHealth?: boolean; timeoutMs?: number } = {}): Promise<void> {
  for (const p of readStack().processes) {
    if (kind === undefined || p.kind === kind)
      await startProcess(p.name, { waitForHealth, timeoutMs }).catch(() => undefined);
  }
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
  await pollUntil(
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return res.status;
    },
    (answered) => answered === status,
    { timeoutMs, what: `${url} to answer ${status}` },
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
