/**
 * What @keyflow/client costs the load generator, next to the runner's own `KvHttpClient` (undici `dispatch`): the
 * same GETs and PUTs against the fake keyflow API (a separate process, so only the generator's CPU is counted here),
 * as CPU microseconds of this process per request. It decides which client the measured hot path uses:
 *
 *   node -r @swc-node/register load-tests/runner/src/http/client-cost.main.ts [--requests 20000] [--concurrency 32]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { KeyflowClient } from '@keyflow/client';
import { requestFor } from '../../../scenarios/kv-request.util';
import { KvHttpClient } from './kv-http.client';

const PORT = 28_491;
const BASE = `http://127.0.0.1:${PORT}`;

interface Cost {
  cpuUsPerRequest: number;
  requestsPerSecond: number;
}

async function measure(requests: number, concurrency: number, send: (i: number) => Promise<unknown>): Promise<Cost> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) await send(next++);
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { cpuUsPerRequest: (used.user + used.system) / requests, requestsPerSecond: requests / seconds };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { requests: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '32' } },
  });
  const requests = Number(values.requests);
  const concurrency = Number(values.concurrency);
  const server = spawn(
    process.execPath,
    [
      '-r',
      '@swc-node/register',
      'load-tests/runner/src/testing/fake-keyflow.main.ts',
      '--port',
      String(PORT),
      '--apply-delay-ms',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => server.stdout.once('data', () => resolve()));
  try {
    const raw = new KvHttpClient(BASE, { connections: concurrency });
    const sdk = new KeyflowClient({ baseUrl: BASE });
    await sdk.put('cost', 'x'.repeat(256));
    const text = 'x'.repeat(256);
    const runs: Record<string, (i: number) => Promise<unknown>> = {
      'GET  KvHttpClient': () => raw.send(requestFor('v1', 'get', 'cost', '', false)),
      'GET  @keyflow/client': () => sdk.get('cost'),
      'PUT  KvHttpClient': (i) => raw.send(requestFor('v1', 'put', `cost-${i % 100}`, text, false)),
      'PUT  @keyflow/client': (i) => sdk.put(`cost-${i % 100}`, text),
    };
    for (const send of Object.values(runs)) await measure(2_000, concurrency, send); // warm up every path
    for (const round of [1, 2]) {
      for (const [name, send] of Object.entries(runs)) {
        const cost = await measure(requests, concurrency, send);
        console.log(
          `round ${round}  ${name.padEnd(22)} ${cost.cpuUsPerRequest.toFixed(0).padStart(5)} µs CPU/request  ${cost.requestsPerSecond.toFixed(0).padStart(6)} req/s`,
        );
      }
    }
    await raw.close();
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
