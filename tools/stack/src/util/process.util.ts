import { childPids, isAlive } from '@keyflow/testing';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { StackError } from '../stack.exception';
import { waitUntil } from './wait.util';

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Resolve with the result instead of throwing when the exit code is not 0. */
  check?: boolean;
  /** Stream output to this terminal as well (long steps such as migrations). */
  echo?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and captures its output; throws a StackError (with the output) when it fails. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { env, cwd, timeoutMs = 120_000, check = true, echo = false } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (echo) process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (echo) process.stderr.write(chunk);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new StackError(`cannot run ${command}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? 128, stdout, stderr };
      if (check && result.code !== 0) {
        const why = signal
          ? `killed by ${signal}${signal === 'SIGKILL' ? ` after ${timeoutMs} ms` : ''}`
          : `exit ${code}`;
        reject(new StackError(`${[command, ...args].join(' ')} failed (${why})`, `${stdout}${stderr}`.trim()));
      } else {
        resolve(result);
      }
    });
  });
}

/** PostgreSQL refuses to run as root: as root, run its binaries as `user` (runuser); otherwise as ourselves. */
export function asUser(user: string, command: string, args: readonly string[]): [string, string[]] {
  return isRoot() ? ['runuser', ['-u', user, '--', command, ...args]] : [command, [...args]];
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The process's command line, or '' when it is gone or unreadable. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** The process's environment as `KEY=value` strings, or [] when it is gone or unreadable. */
export function environment(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

export function readPidFile(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  try {
    await waitUntil(() => !isAlive(pid), { timeoutMs, what: `pid ${pid} to exit` });
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves with how it ended. */
export async function terminate(pid: number, graceMs = 10_000): Promise<'not running' | 'stopped' | 'killed'> {
  if (!isAlive(pid)) return 'not running';
  signal(pid, 'SIGTERM');
  if (await waitForExit(pid, graceMs)) return 'stopped';
  signal(pid, 'SIGKILL');
  if (await waitForExit(pid, 5_000)) return 'killed';
  throw new StackError(`pid ${pid} survived SIGKILL`);
}

/** Stops a daemon's master and then whatever children it left behind. */
export async function terminateTree(pid: number, graceMs = 10_000): Promise<'not running' | 'stopped' | 'killed'> {
  const children = isAlive(pid) ? childPids(pid) : [];
  const outcome = await terminate(pid, graceMs);
  await Promise.all(children.map((child) => terminate(child, 2_000)));
  return outcome;
}
