import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isAlive, pollUntil } from '@keyflow/testing';
import { NGINX_TEMP_DIRS } from './nginx-conf.util';

const run = promisify(execFile);

/** nginx to use: `NGINX_BIN`, else the Debian path, else whatever `nginx` is on the PATH. */
export function nginxBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.NGINX_BIN) return env.NGINX_BIN;
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
}

export class NginxError extends Error {
  constructor(
    message: string,
    readonly errorLog: string,
  ) {
    super(errorLog.trim() === '' ? message : `${message}\n${errorLog.trim()}`);
    this.name = NginxError.name;
  }
}

/**
 * A private nginx in a temporary run directory, started the way the stack starts the gateway
 * (`nginx -p <dir> -c <dir>/nginx.conf -e <dir>/error.log`, daemonised, pid file in the run dir) and stopped by
 * that pid — never by name, so a developer's gateway on the same machine is left alone.
 */
export class NginxProcess {
  private constructor(
    readonly prefix: string,
    readonly pid: number,
  ) {}

  /** Creates the run dir for a config rendered by `render(prefix)`. */
  static async prepare(
    render: (prefix: string) => string,
  ): Promise<{ prefix: string; confFile: string; args: string[] }> {
    const prefix = await mkdtemp(join(tmpdir(), 'keyflow-baseline-nginx-'));
    await Promise.all(NGINX_TEMP_DIRS.map((dir) => mkdir(join(prefix, 'tmp', dir), { recursive: true })));
    const confFile = join(prefix, 'nginx.conf');
    await writeFile(confFile, render(prefix));
    return { prefix, confFile, args: ['-p', prefix, '-c', confFile, '-e', join(prefix, 'error.log')] };
  }

  /** `nginx -t` on a rendered config; throws NginxError with nginx's own words when it is invalid. */
  static async test(render: (prefix: string) => string): Promise<string> {
    const { prefix, args } = await NginxProcess.prepare(render);
    try {
      const { stderr } = await run(nginxBinary(), ['-t', ...args]);
      return stderr;
    } catch (error: unknown) {
      const stderr = (error as { stderr?: string }).stderr ?? String(error);
      throw new NginxError('nginx -t rejected the baseline config', stderr);
    } finally {
      await rm(prefix, { recursive: true, force: true });
    }
  }

  static async start(render: (prefix: string) => string): Promise<NginxProcess> {
    const { prefix, args } = await NginxProcess.prepare(render);
    const errorLog = join(prefix, 'error.log');
    try {
      await run(nginxBinary(), args);
      const pidText = await pollUntil(
        () => readFile(join(prefix, 'nginx.pid'), 'utf8'),
        (text) => /^\d+\s*$/.test(text),
        { timeoutMs: 5000, intervalMs: 20, what: 'the nginx pid file' },
      );
      return new NginxProcess(prefix, Number(pidText.trim()));
    } catch (error: unknown) {
      const log = await readFile(errorLog, 'utf8').catch(() => '');
      await rm(prefix, { recursive: true, force: true });
      throw new NginxError(`nginx did not start: ${error instanceof Error ? error.message : String(error)}`, log);
    }
  }

  /** Graceful stop (SIGQUIT), then SIGTERM/SIGKILL if it lingers; removes the run dir. Safe to call twice. */
  async stop(): Promise<void> {
    for (const [signal, waitMs] of [
      ['SIGQUIT', 3000],
      ['SIGTERM', 2000],
      ['SIGKILL', 2000],
    ] as const) {
      if (!isAlive(this.pid)) break;
      try {
        process.kill(this.pid, signal);
      } catch {
        break;
      }
      await pollUntil(
        () => Promise.resolve(isAlive(this.pid)),
        (alive) => !alive,
        { timeoutMs: waitMs, intervalMs: 20, what: `nginx ${this.pid} to exit` },
      ).catch(() => undefined);
    }
    await rm(this.prefix, { recursive: true, force: true });
  }

  /** Synchronous last resort for process exit handlers. */
  killNow(): void {
    if (isAlive(this.pid)) process.kill(this.pid, 'SIGTERM');
  }
}
