import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { isAlive, pollUntil } from '@keyflow/testing';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion and reports its exit code and output; never throws on a non-zero exit. */
export function runCommand(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 30_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') {
          // Not started, or killed (timeout): no exit code to report.
          reject(new Error(`${command} did not run to completion: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}

/** A loopback port nothing listens on right now (the usual small race is acceptable in tests). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  return address.port;
}

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits until a daemon has written its pid file and returns the pid. */
export function waitForPidFile(file: string, what: string): Promise<number> {
  return pollUntil(
    () => Promise.resolve(Number.parseInt(readFileSync(file, 'utf8').trim(), 10)),
    (pid) => Number.isInteger(pid) && pid > 0 && isAlive(pid),
    { timeoutMs: 10_000, what: `${what} pid file ${file}` },
  );
}

/** Stops a daemon by pid (SIGTERM) and waits until it is gone; a pid that is already gone is fine. */
export async function stopDaemon(pid: number, what: string): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  await pollUntil(
    () => Promise.resolve(isAlive(pid)),
    (alive) => !alive,
    { timeoutMs: 10_000, what: `${what} to exit` },
  );
}
