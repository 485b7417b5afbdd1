import { connect } from 'node:net';
import type { ProcessProbe } from './cluster-processes.util';

export interface ProbeResult {
  up: boolean;
  latencyMs: number;
  detail?: string;
}

/** A check that ends within `timeoutMs` however the process behaves (a frozen one never answers). */
export async function probe(target: ProcessProbe, timeoutMs: number): Promise<ProbeResult> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  try {
    if (target.kind === 'http') {
      const res = await fetch(target.url, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.ok
        ? { up: true, latencyMs: elapsed() }
        : { up: false, latencyMs: elapsed(), detail: `HTTP ${res.status}` };
    }
    await tcpConnect(target.host, target.port, timeoutMs);
    return { up: true, latencyMs: elapsed() };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { up: false, latencyMs: elapsed(), detail: message };
  }
}

/** Whether `url` answers 200 (Patroni's `/primary`), within `timeoutMs`. */
export async function answers200(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    });
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', (err) => {
      socket.destroy();
      reject(err);
    });
  });
}
