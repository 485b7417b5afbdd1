import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { buildWrkCommand, type WrkRunSpec } from './wrk-command.util';
import { parseWrkOutput, WrkOutputError, type WrkResult } from './wrk-output.util';

export interface WrkRun {
  result: WrkResult;
  /** The command line as run (the token is in the environment, not here). */
  commandLine: string;
  /** CPU seconds wrk itself used (user + system): the load generator's share of the machine. */
  cpuSeconds: number;
}

export class WrkUnavailableError extends Error {
  constructor(binary: string) {
    super(`${binary} not found: install it with \`apt-get install -y wrk\` (Debian/Ubuntu); the wrk runs are skipped`);
    this.name = WrkUnavailableError.name;
  }
}

export class WrkRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = WrkRunError.name;
  }
}

/** Extra time after `-d` before a wrk that did not exit is killed: it needs a moment to print its results. */
const EXIT_GRACE_MS = 20_000;
const TICKS_PER_SECOND = 100;

/** `cutime + cstime` of this process (`/proc/self/stat`): the CPU of children it has reaped, wrk included. */
export async function reapedChildrenTicks(procRoot = '/proc'): Promise<number | null> {
  try {
    const stat = await readFile(`${procRoot}/self/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[13]) + Number(fields[14]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/**
 * Runs wrk (the C load generator) with one of the Lua scripts in `load-tests/wrk/`, for the duration the spec gives
 * and no longer: a wrk that has not exited `EXIT_GRACE_MS` after it should have is killed by its pid. An abort
 * signal stops it early with SIGINT, after which wrk still prints what it measured.
 */
export class WrkRunner {
  constructor(
    private readonly scriptDir: string,
    private readonly binary = 'wrk',
  ) {}

  /** wrk's version (`debian/4.1.0-3+b2 [epoll]`), or throws `WrkUnavailableError`. */
  async version(): Promise<string> {
    // `wrk -v` prints its version and usage, and exits 1.
    const { stdout } = await promisify(execFile)(this.binary, ['-v']).catch((error: unknown) => {
      const failure = error as { stdout?: string; code?: unknown };
      if (failure.code === 'ENOENT' || failure.stdout === undefined) throw new WrkUnavailableError(this.binary);
      return { stdout: failure.stdout };
    });
    const first = stdout.split('\n')[0] ?? '';
    return (
      first
        .replace(/^wrk\s+/, '')
        .replace(/\s+Copyright.*$/, '')
        .trim() || 'unknown version'
    );
  }

  async run(spec: WrkRunSpec, signal?: AbortSignal): Promise<WrkRun> {
    const command = buildWrkCommand(spec, this.scriptDir, this.binary);
    const commandLine = [command.command, ...command.args].join(' ');
    const ticksBefore = await reapedChildrenTicks();
    const child = spawn(command.command, command.args, {
      env: { ...process.env, ...command.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const onAbort = (): void => {
      child.kill('SIGINT');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const killTimer = setTimeout(() => child.kill('SIGKILL'), Math.ceil(spec.durationS) * 1000 + EXIT_GRACE_MS);
    try {
      const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
        child.once('error', (error: NodeJS.ErrnoException) =>
          reject(error.code === 'ENOENT' ? new WrkUnavailableError(this.binary) : error),
        );
        child.once('close', (code, exitSignal) => resolve({ code, signal: exitSignal }));
      });
      const ticksAfter = await reapedChildrenTicks();
      if (exit.code !== 0 && !(signal?.aborted ?? false)) {
        throw new WrkRunError(
          `${commandLine} exited with ${exit.code ?? exit.signal}: ${(stderr || stdout).trim().slice(0, 500)}`,
        );
      }
      try {
        return {
          result: parseWrkOutput(stdout),
          commandLine,
          cpuSeconds:
            ticksBefore === null || ticksAfter === null ? 0 : Math.max(0, ticksAfter - ticksBefore) / TICKS_PER_SECOND,
        };
      } catch (error: unknown) {
        if (error instanceof WrkOutputError) throw new WrkRunError(`${error.message}: ${stderr.trim().slice(0, 500)}`);
        throw error;
      }
    } finally {
      clearTimeout(killTimer);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
