import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { shardOf, shardQueueName } from '@keyflow/contracts';
import {
  gatewayRequest,
  pollUntil,
  publishDeadLetter,
  readStack,
  type GatewayRequestOptions,
  type StackInfo,
} from '@keyflow/testing';

/**
 * One request id from the gateway through the API into the worker's log line for the write it made, and
 * `npm run logs -- --request <id>` finding all three. Reads the stack's own log files: each process's output in
 * `<stackDir>/logs/<name>.log` (the apps' pino lines) and the gateways' JSON access logs in
 * `<stackDir>/run/nginx-*-access.log` (written in 64 KiB buffers flushed every second, hence the polling).
 */
let stack: StackInfo;
/** Where each log file ended when the suite started: only what was appended since is searched. */
const startOffsets = new Map<string, number>();

type Tier = 'gateway' | 'api' | 'worker';

interface LogFile {
  file: string;
  tier: Tier;
}

function logFiles(): LogFile[] {
  const files: LogFile[] = [];
  const logs = join(stack.stackDir, 'logs');
  for (const name of existsSync(logs) ? readdirSync(logs) : []) {
    if (/^api-\d+\.log$/.test(name)) files.push({ file: join(logs, name), tier: 'api' });
    if (/^worker-\d+\.log$/.test(name)) files.push({ file: join(logs, name), tier: 'worker' });
  }
  const run = join(stack.stackDir, 'run');
  for (const name of existsSync(run) ? readdirSync(run) : []) {
    if (/^nginx.*-access\.log$/.test(name)) files.push({ file: join(run, name), tier: 'gateway' });
  }
  return files;
}

/** The JSON lines appended to the gateway, API and worker logs since the suite started that carry `id`. */
function linesWith(id: string): Record<Tier, Array<Record<string, unknown> & { file: string }>> {
  const found: ReturnType<typeof linesWith> = { gateway: [], api: [], worker: [] };
  for (const { file, tier } of logFiles()) {
    const size = statSync(file).size;
    // A log the supervisor rotated meanwhile starts again from its beginning.
    const from = (startOffsets.get(file) ?? 0) <= size ? (startOffsets.get(file) ?? 0) : 0;
    const text = readFileSync(file).subarray(from).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.startsWith('{') || !line.includes(id)) continue;
      try {
        found[tier].push({ ...(JSON.parse(line) as Record<string, unknown>), file: basename(file) });
      } catch {
        // A line still being written.
      }
    }
  }
  return found;
}

/** Polls the logs until the gateway (when `throughGateway`), an API and a worker each logged a line with `id`. */
function waitForLines(id: string, throughGateway: boolean) {
  return pollUntil(
    () => Promise.resolve(linesWith(id)),
    (found) =>
      (!throughGateway || found.gateway.length > 0) &&
      found.api.length > 0 &&
      found.worker.some((l) => typeof l.status === 'string'),
    { what: `log lines with request id ${id}`, timeoutMs: 20_000, intervalMs: 250 },
  );
}

/** `npm run logs -- --request <id>` against this stack: the services it printed lines of. */
function logsTool(id: string): { code: number | null; services: string[]; out: string } {
  const result = spawnSync(
    process.execPath,
    ['tools/stack/bin/keyflow-logs.mjs', '--request', id, '--stack-dir', stack.stackDir],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  const services = result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(/\s+/)[1] ?? '');
  return { code: result.status, services, out: result.stdout };
}

function request(method: string, path: string, options: GatewayRequestOptions = {}) {
  return gatewayRequest(method, path, { stack, timeoutMs: 30_000, ...options });
}

async function appliedVersion(operationId: string): Promise<number> {
  const done = await pollUntil(
    () => request('GET', `/v1/operations/${operationId}`),
    (r) => r.json.status === 'applied',
    { what: `operation ${operationId} to be applied` },
  );
  return Number(done.json.version);
}

describe('request ids (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
    for (const { file } of logFiles()) startOffsets.set(file, statSync(file).size);
  });

  it('should log the id the gateway answered in its access line, an API line and the worker line of the write', async () => {
    const key = `reqid-${randomUUID()}`;
    // A client's own X-Request-Id does not choose the id: the gateway's is the one it answers and passes on.
    const put = await request('PUT', `/v1/kv/${encodeURIComponent(key)}`, {
      body: { value: { traced: true } },
      headers: { 'x-request-id': `client-${randomUUID()}` },
    });
    expect(put.status).toBe(202);
    const id = put.headers.get('x-request-id') ?? '';
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const operationId = String(put.json.operationId);
    const version = await appliedVersion(operationId);

    const found = await waitForLines(id, true);
    expect(found.gateway).toContainEqual(
      expect.objectContaining({ requestId: id, method: 'PUT', status: 202, uri: `/v1/kv/${encodeURIComponent(key)}` }),
    );
    expect(found.api).toContainEqual(
      expect.objectContaining({ reqId: id, method: 'PUT', status: 202, msg: 'request completed' }),
    );
    expect(found.worker).toEqual([
      expect.objectContaining({
        requestId: id,
        operationId,
        key,
        type: 'put',
        status: 'applied',
        version,
        shard: shardOf(key, 16),
        msg: 'write applied',
      }),
    ]);

    const tool = await pollUntil(
      () => Promise.resolve(logsTool(id)),
      (t) => t.code === 0 && t.services.some((s) => s.startsWith('worker-')),
      { what: `npm run logs -- --request ${id} to show the worker's line`, timeoutMs: 20_000, intervalMs: 500 },
    );
    expect(tool.services.some((s) => s.startsWith('nginx'))).toBe(true);
    expect(tool.services.some((s) => /^api-\d+$/.test(s))).toBe(true);
    expect(tool.services.some((s) => /^worker-\d+$/.test(s))).toBe(true);
  });

  it('should carry an id the client chose, where the API takes it (straight to an API), into the worker line', async () => {
    const key = `reqid-direct-${randomUUID()}`;
    const chosen = randomBytes(16).toString('hex');
    const put = await request('PUT', `/v1/kv/${encodeURIComponent(key)}`, {
      gateway: stack.apis[0],
      body: { value: 1 },
      headers: { 'x-request-id': chosen, prefer: 'wait=10' },
    });
    expect(put.status).toBe(201);

    const found = await waitForLines(chosen, false);
    expect(found.api).toContainEqual(expect.objectContaining({ reqId: chosen, method: 'PUT', status: 201 }));
    expect(found.worker).toEqual([
      expect.objectContaining({ requestId: chosen, key, status: 'applied', version: 1, msg: 'write applied' }),
    ]);
  });

  it('should log one worker line per operation of a bulk write, each with the bulk request’s id', async () => {
    const keys = [`reqid-bulk-a-${randomUUID()}`, `reqid-bulk-b-${randomUUID()}`];
    const bulk = await request('POST', '/v1/kv', {
      body: { operations: keys.map((key) => ({ op: 'put', key, value: key })) },
    });
    expect(bulk.status).toBe(202);
    const id = bulk.headers.get('x-request-id') ?? '';
    const found = await pollUntil(
      () => Promise.resolve(linesWith(id)),
      (f) => f.worker.length === 2 && f.gateway.length > 0,
      { what: `both bulk operations logged with ${id}`, timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(found.worker.map((l) => l.key).sort()).toEqual([...keys].sort());
    expect(found.worker.every((l) => l.requestId === id && l.status === 'applied')).toBe(true);
  });

  it('should keep the request id of a dead-lettered write through a replay', async () => {
    const key = `reqid-replay-${randomUUID()}`;
    const operationId = randomUUID();
    const requestId = randomBytes(16).toString('hex');
    const queue = shardQueueName(shardOf(key, 16));
    await publishDeadLetter(
      { v: 1, id: operationId, key, type: 'put', value: 'replayed', acceptedAt: new Date().toISOString(), requestId },
      { 'x-first-death-reason': 'delivery_limit', 'x-first-death-queue': queue },
      stack,
    );
    await pollUntil(
      () => request('GET', `/v1/operations/${operationId}`),
      (r) => r.json.status === 'failed',
      { what: 'the audit to mark the operation failed' },
    );
    const dlq = (...args: string[]) =>
      spawnSync(
        process.execPath,
        ['-r', '@swc-node/register', 'tools/dlq/src/main.ts', ...args, '--amqp', stack.amqp[0] ?? ''],
        { encoding: 'utf8', timeout: 60_000 },
      );
    const listed = JSON.parse(dlq('list', '--json').stdout) as Array<{ operationId?: string; requestId?: string }>;
    expect(listed.find((l) => l.operationId === operationId)).toMatchObject({ requestId });

    const replayed = dlq('replay', '--id', operationId);
    expect(replayed.stdout).toContain(`replayed ${operationId} (put ${key}) to ${queue}`);
    await appliedVersion(operationId);
    const found = await pollUntil(
      () => Promise.resolve(linesWith(requestId)),
      (f) => f.worker.some((l) => l.status === 'applied'),
      { what: `the replayed write logged with ${requestId}`, timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(found.worker).toContainEqual(
      expect.objectContaining({ requestId, operationId, key, status: 'applied', msg: 'write applied' }),
    );
  });
});
