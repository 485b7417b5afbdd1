import { connect } from 'node:net';
import { StackError } from '../stack.exception';

/**
 * Polls `check` until it returns true, instead of sleeping for a guessed time. Throws with `what` and the
 * last error seen once `timeoutMs` has passed. A StackError thrown by `check` is final (say, the process
 * being waited for has exited) and ends the wait at once.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  { timeoutMs, intervalMs = 100, what }: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      if (err instanceof StackError) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** True when a TCP connection to host:port succeeds. */
export function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The HTTP status of a GET, or undefined when nothing answers. */
export async function httpStatus(
  url: string,
  { timeoutMs = 2_000, auth }: { timeoutMs?: number; auth?: { user: string; password: string } } = {},
): Promise<number | undefined> {
  try {
    const headers: Record<string, string> = {};
    if (auth) headers['authorization'] = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return undefined;
  }
}

export async function httpJson<T>(
  url: string,
  { timeoutMs = 2_000, auth }: { timeoutMs?: number; auth?: { user: string; password: string } } = {},
): Promise<T> {
  const headers: Record<string, string> = {};
  if (auth) headers['authorization'] = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return (await res.json()) as T;
}

/** A process is healthy when its recorded health URL answers 200 (gateways, monitoring, the edge's HAProxy). */
export async function httpHealth(proc: { healthUrl?: string }): Promise<{ healthy: boolean; detail: string }> {
  if (!proc.healthUrl) return { healthy: false, detail: 'no health URL recorded' };
  const status = await httpStatus(proc.healthUrl);
  return { healthy: status === 200, detail: `GET ${new URL(proc.healthUrl).pathname} → ${status ?? 'no answer'}` };
}
