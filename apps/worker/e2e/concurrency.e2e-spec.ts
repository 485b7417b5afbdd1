import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewayRequest, killProcess, pollUntil, readStack, startProcess, type StackInfo } from '@keyflow/testing';

/**
 * The concurrency checker: many clients write to a handful of keys at once through the gateway, some
 * conditionally, some deletes, while a worker is SIGKILLed and restarted. Afterwards the history must be
 * exactly what the design promises: every accepted operation finished, each key's applied versions are
 * 1..n with no gap and no duplicate, and the key's value (read strongly and through the cache) is the
 * value of its highest version.
 */
const CLIENTS = 16;
const OPS_PER_CLIENT = 25;
const KEYS = 4;

interface Op {
  operationId: string;
  key: string;
  type: 'put' | 'delete';
  value?: { client: number; i: number };
  conditional: boolean;
}

let stack: StackInfo;

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return gatewayRequest(method, path, { body, headers, stack });
}

describe('concurrency checker (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  it(`should keep per-key versions gapless and values right with ${CLIENTS} clients while a worker dies`, async () => {
    const run = randomUUID().slice(0, 8);
    const keys = Array.from({ length: KEYS }, (_, i) => `cc-${run}-${i}`);
    const ops: Op[] = [];
    const rejected: number[] = [];
    let started = 0;

    const client = async (c: number) => {
      for (let i = 0; i < OPS_PER_CLIENT; i++) {
        started++;
        const key = keys[(c + i) % KEYS] ?? '';
        const roll = (c * 31 + i * 17) % 20;
        if (roll === 0) {
          const r = await call('DELETE', `/v1/kv/${key}`);
          if (r.status === 202)
            ops.push({ operationId: String(r.json.operationId), key, type: 'delete', conditional: false });
          else rejected.push(r.status);
          continue;
        }
        const value = { client: c, i };
        const headers: Record<string, string> = {};
        const conditional = roll <= 2;
        if (conditional) {
          const seen = await call('GET', `/v1/kv/${key}`);
          if (seen.status === 200) headers['if-match'] = `"${String(seen.json.version)}"`;
          else headers['if-none-match'] = '*';
        }
        const r = await call('PUT', `/v1/kv/${key}`, { value }, headers);
        if (r.status === 202)
          ops.push({ operationId: String(r.json.operationId), key, type: 'put', value, conditional });
        else rejected.push(r.status);
      }
    };

    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));
    await pollUntil(
      () => Promise.resolve(started),
      (n) => n >= (CLIENTS * OPS_PER_CLIENT) / 3,
      { what: 'a third of the writes' },
    );
    await killProcess('worker-1', 'SIGKILL');
    await pollUntil(
      () => Promise.resolve(started),
      (n) => n >= (CLIENTS * OPS_PER_CLIENT) / 2,
      { what: 'half of the writes' },
    );
    await startProcess('worker-1', { waitForHealth: true });
    await Promise.all(clients);

    expect(rejected).toEqual([]);
    expect(ops).toHaveLength(CLIENTS * OPS_PER_CLIENT);

    // Every accepted operation finishes: applied, or conflict where it was conditional.
    const finished = new Map<string, { status: string; version: number }>();
    for (const op of ops) {
      const r = await pollUntil(
        () => call('GET', `/v1/operations/${op.operationId}`),
        (x) => x.json.status === 'applied' || x.json.status === 'conflict' || x.json.status === 'failed',
        { what: `operation ${op.operationId} to finish`, timeoutMs: 60_000 },
      );
      finished.set(op.operationId, { status: String(r.json.status), version: Number(r.json.version) });
    }
    const statuses = ops.map(
      (op) => `${op.conditional ? 'conditional' : 'plain'}:${finished.get(op.operationId)?.status}`,
    );
    expect(
      statuses.filter((s) => s !== 'plain:applied' && s !== 'conditional:applied' && s !== 'conditional:conflict'),
    ).toEqual([]);

    for (const key of keys) {
      const applied = ops
        .filter((op) => op.key === key && finished.get(op.operationId)?.status === 'applied')
        .map((op) => ({ op, version: finished.get(op.operationId)?.version ?? -1 }))
        .sort((a, b) => a.version - b.version);
      // Versions are exactly 1..n: no gap, no duplicate.
      expect(applied.map((a) => a.version)).toEqual(applied.map((_, i) => i + 1));

      const last = applied.at(-1)?.op;
      const strong = await call('GET', `/v1/kv/${key}?consistency=strong`);
      const cached = await pollUntil(
        () => call('GET', `/v1/kv/${key}`),
        (r) => (last?.type === 'delete' ? r.status === 404 : r.json.version === applied.length),
        { what: `the cache of ${key} to reach version ${applied.length}`, timeoutMs: 10_000 },
      );
      if (last?.type === 'delete') {
        expect(strong.status).toBe(404);
        expect(cached.status).toBe(404);
      } else {
        expect(strong.json).toMatchObject({ key, value: last?.value, version: applied.length });
        expect(cached.json).toMatchObject({ key, value: last?.value, version: applied.length });
      }
    }
  });
});
