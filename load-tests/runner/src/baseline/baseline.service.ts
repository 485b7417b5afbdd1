import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { Operation, RequestSpec } from '../../../scenarios/scenarios';
import { KvHttpClient } from '../http/kv-http.client';
import { runClosedModel } from '../load/closed-model.util';
import { ProgressReporter } from '../load/progress-reporter.util';
import { ScenarioMetrics, type OperationResult } from '../load/scenario-metrics.service';
import { RssSampler, type RssReport } from '../metrics/rss-sampler.service';
import { pollUntil } from '@keyflow/testing';
import { renderBaselineNginxConf } from './nginx-conf.util';
import { nginxBinary, NginxProcess } from './nginx-process.service';

export interface BaselineOptions {
  /** Closed-model VUs = connections, as in `cache-hit-get`. */
  connections: number;
  getDurationMs: number;
  putDurationMs: number;
  /** Unrecorded load first, so neither side is measured cold (JIT, connection set-up). */
  warmupMs: number;
  progressIntervalMs: number;
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Where `node -r @swc-node/register` runs the hello server from (needs the workspace's tsconfig). */
  cwd: string;
}

export interface BaselineResult {
  startedAt: string;
  connections: number;
  nginxVersion: string;
  target: string;
  /** 1-minute load average of the machine before and after the measurement. */
  hostLoad: { start: number; end: number };
  get: OperationResult;
  put: OperationResult;
  /** RSS of the hello server process. */
  rss: RssReport;
}

export class BaselineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = BaselineError.name;
  }
}

const HELLO_GET: RequestSpec = { method: 'GET', path: '/hello', expectedStatuses: [200] };
const HELLO_PUT: RequestSpec = {
  method: 'PUT',
  path: '/hello',
  body: JSON.stringify({ value: 'x'.repeat(256) }),
  expectedStatuses: [200],
};

/**
 * Measures what the machine and the load generator can do with no keyflow in the way: a bare Fastify server in its
 * own process behind a private nginx with the gateway's proxy settings, loaded at the same 64 connections as
 * `cache-hit-get`. Every scenario figure is reported as a ratio to it. Everything it starts, it stops — also when
 * the measurement fails or is aborted.
 */
export class BaselineService {
  async run(options: BaselineOptions): Promise<BaselineResult> {
    const startedAt = new Date().toISOString();
    const hostLoadStart = loadavg()[0] ?? 0;
    let hello: ChildProcess | undefined;
    let nginx: NginxProcess | undefined;
    const killOnExit = (): void => {
      nginx?.killNow();
      hello?.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    try {
      const started = await startHelloServer(options.cwd);
      hello = started.child;
      const helloPid = started.child.pid ?? 0;
      const listenPort = await freePort();
      nginx = await NginxProcess.start((prefix) =>
        renderBaselineNginxConf({ prefix, listenPort, upstreamPort: started.port }),
      );
      const target = `http://127.0.0.1:${listenPort}`;
      options.log(
        `[baseline] hello server pid ${helloPid} on :${started.port}, nginx pid ${nginx.pid} on :${listenPort}`,
      );

      const client = new KvHttpClient(target, { connections: options.connections });
      try {
        await pollUntil(
          () => client.send(HELLO_GET),
          (o) => o.ok,
          { timeoutMs: 10_000, what: 'the baseline to answer through nginx' },
        );
        const rss = new RssSampler([{ name: 'baseline-hello', pid: helloPid }]);
        await rss.start();
        await this.measure(client, HELLO_GET, 'get', options.warmupMs, options, undefined);
        const get = await this.measure(client, HELLO_GET, 'get', options.getDurationMs, options, 'baseline GET');
        const put = await this.measure(client, HELLO_PUT, 'put', options.putDurationMs, options, 'baseline PUT');
        return {
          startedAt,
          connections: options.connections,
          nginxVersion: await nginxVersion(),
          target,
          hostLoad: { start: hostLoadStart, end: loadavg()[0] ?? 0 },
          get,
          put,
          rss: await rss.stop(),
        };
      } finally {
        await client.close();
      }
    } finally {
      await nginx?.stop();
      if (hello !== undefined) await stopChild(hello);
      process.removeListener('exit', killOnExit);
    }
  }

  private async measure(
    client: KvHttpClient,
    spec: RequestSpec,
    op: Operation,
    durationMs: number,
    options: BaselineOptions,
    label: string | undefined,
  ): Promise<OperationResult> {
    const metrics = new ScenarioMetrics();
    if (durationMs <= 0) return metrics.operationResult(op);
    const progress = label === undefined ? undefined : new ProgressReporter(label, durationMs, metrics, options.log);
    progress?.start(options.progressIntervalMs);
    try {
      const result = await runClosedModel({
        targetVUs: () => options.connections,
        durationMs,
        gracefulStopMs: 5000,
        signal: options.signal,
        iteration: async () => {
          const outcome = await client.send(spec);
          metrics.record(op, outcome.durationMs, outcome.failure);
        },
      });
      metrics.loadDurationS = result.elapsedMs / 1000;
    } finally {
      progress?.stop();
    }
    const outcome = metrics.operationResult(op);
    if (label !== undefined) {
      options.log(
        `[${label}] ${outcome.rps.toFixed(0)} req/s, p99 ${outcome.latency.p99Ms.toFixed(2)} ms, ${outcome.failures} errors`,
      );
    }
    return outcome;
  }
}

async function startHelloServer(cwd: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'hello-server.main.ts')], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HELLO_PORT: '0' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const port = new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const match = /"port":(\d+)/.exec(line);
      if (match?.[1] !== undefined) resolve(Number(match[1]));
    });
    child.once('exit', (code) =>
      reject(new BaselineError(`the hello server exited (${code}) before listening: ${stderr}`)),
    );
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new BaselineError('the hello server did not listen within 30 s')), 30_000).unref(),
  );
  try {
    return { child, port: await Promise.race([port, timeout]) };
  } catch (error: unknown) {
    await stopChild(child);
    throw error;
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** A free loopback port (bound then released; nginx binds it right after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (typeof address !== 'object' || address === null) throw new BaselineError('could not find a free port');
  return address.port;
}

async function nginxVersion(): Promise<string> {
  try {
    const { stderr } = await promisify(execFile)(nginxBinary(), ['-v']);
    return stderr.trim().replace(/^nginx version:\s*/, '');
  } catch {
    return 'unknown';
  }
}
