import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminAuthHeaders,
  isAlive,
  killProcess,
  pollUntil,
  readStack,
  startProcess,
  type StackInfo,
} from '@keyflow/testing';

/**
 * Failure under load, one tier at a time: while clients write and read through the gateway, a node of
 * the tier is SIGKILLed and later restarted. What must hold: every write the API acknowledged (202) ends
 * applied, in each client's order, and the last acknowledged value is what a strong read returns.
 */
let stack: StackInfo;

interface Ack {
  operationId: string;
  key: string;
  seq: number;
}

async function http(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  try {
    const response = await fetch(stack.gateway + path, {
      method,
      signal: AbortSignal.timeout(15_000),
      headers: { ...adminAuthHeaders(stack), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch {
    return { status: 0, json: {} };
  }
}

/**
 * `writers` clients each write sequence numbers to their own key, one write at a time, and `readers` read
 * pre-written keys, until `stop()`. Statuses seen are counted, so a test can assert on reads never failing.
 */
function startLoad({
  writers = 8,
  readers = 4,
  prefix,
  readKeys,
}: {
  writers?: number;
  readers?: number;
  prefix: string;
  readKeys: string[];
}) {
  let running = true;
  const acks: Ack[] = [];
  const writeErrors: number[] = [];
  const readStatuses: number[] = [];
  const loops = [
    ...Array.from({ length: writers }, async (_, w) => {
      const key = `${prefix}-w${w}`;
      for (let seq = 1; running; seq++) {
        const r = await http('PUT', `/v1/kv/${key}`, { value: { seq } });
        if (r.status === 202) acks.push({ operationId: String(r.json.operationId), key, seq });
        else writeErrors.push(r.status);
      }
    }),
    ...Array.from({ length: readers }, async (_, r) => {
      for (let i = 0; running; i++)
        readStatuses.push((await http('GET', `/v1/kv/${readKeys[(r + i) % readKeys.length]}`)).status);
    }),
  ];
  return {
    acks,
    writeErrors,
    readStatuses,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

async function seedReadKeys(keys: string[]): Promise<void> {
  const ops = await Promise.all(keys.map((k) => http('PUT', `/v1/kv/${k}`, { value: k })));
  for (const op of ops) await waitApplied(String(op.json.operationId));
  await Promise.all(keys.map((k) => http('GET', `/v1/kv/${k}`)));
}

async function waitApplied(operationId: string): Promise<Record<string, unknown>> {
  const r = await pollUntil(
    () => http('GET', `/v1/operations/${operationId}`),
    (x) => x.json.status === 'applied',
    {
      what: `operation ${operationId} applied`,
      timeoutMs: 60_000,
      intervalMs: 100,
    },
  );
  return r.json;
}

/** Every acknowledged write applied, versions rising in each client's order, last value readable. */
async function expectNothingLost(acks: Ack[]): Promise<void> {
  expect(acks.length).toBeGreaterThan(20);
  const versions = new Map<string, Array<{ seq: number; version: number }>>();
  for (const ack of acks) {
    const op = await waitApplied(ack.operationId);
    versions.set(ack.key, [...(versions.get(ack.key) ?? []), { seq: ack.seq, version: Number(op.version) }]);
  }
  for (const [key, list] of versions) {
    const bySeq = [...list].sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < bySeq.length; i++) expect(bySeq[i]?.version).toBeGreaterThan(bySeq[i - 1]?.version ?? 0);
    const last = bySeq.at(-1);
    const strong = await http('GET', `/v1/kv/${key}?consistency=strong`);
    expect(strong.status).toBe(200);
    // The last acknowledged write, or a later one whose acknowledgement was lost with the node.
    expect(Number((strong.json.value as { seq: number }).seq)).toBeGreaterThanOrEqual(last?.seq ?? 0);
  }
}

async function runUnderLoad(prefix: string, disrupt: () => Promise<void>) {
  const readKeys = Array.from({ length: 8 }, (_, i) => `${prefix}-read-${i}`);
  await seedReadKeys(readKeys);
  const load = startLoad({ prefix, readKeys });
  await pollUntil(
    () => Promise.resolve(load.acks.length),
    (n) => n >= 20,
    { what: 'load to start', timeoutMs: 30_000 },
  );
  await disrupt();
  const after = load.acks.length;
  await pollUntil(
    () => Promise.resolve(load.acks.length),
    (n) => n >= after + 20,
    { what: 'writes to flow again', timeoutMs: 60_000 },
  );
  await load.stop();
  return load;
}

describe('failover under load (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
  });
  afterAll(async () => {
    // Leave the stack whole for whatever runs next, whatever failed above.
    for (const p of readStack().processes) {
      if (!isAlive(p.pid) && ['api', 'worker', 'redis', 'rabbitmq'].includes(p.kind)) {
        await startProcess(p.name, { waitForHealth: true }).catch(() => undefined);
      }
    }
  });

  it('should lose no acknowledged write when a worker is SIGKILLed and restarted', async () => {
    const load = await runUnderLoad(`fo-worker-${randomUUID().slice(0, 8)}`, async () => {
      await killProcess('worker-1', 'SIGKILL');
      await new Promise((r) => setTimeout(r, 1_000));
      await startProcess('worker-1', { waitForHealth: true });
    });
    expect(load.writeErrors).toEqual([]);
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    await expectNothingLost(load.acks);
  });

  it('should keep reads answering and lose no acknowledged write when an API instance is SIGKILLed', async () => {
    const load = await runUnderLoad(`fo-api-${randomUUID().slice(0, 8)}`, async () => {
      await killProcess('api-1', 'SIGKILL');
      await new Promise((r) => setTimeout(r, 2_000));
      await startProcess('api-1', { waitForHealth: true });
    });
    // Reads fail over to the other instance; a write in flight on the dead one may get 502 (not acknowledged).
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    expect(load.writeErrors.every((s) => s === 502)).toBe(true);
    await expectNothingLost(load.acks);
  });

  it('should serve reads from the database while a Redis master fails over', async () => {
    const masters = stack.processes.filter((p) => p.kind === 'redis');
    const victim = masters[0];
    if (!victim) throw new Error('no redis node in the stack');
    const load = await runUnderLoad(`fo-redis-${randomUUID().slice(0, 8)}`, async () => {
      await killProcess(victim.name, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 4_000));
      await startProcess(victim.name);
    });
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    expect(load.writeErrors).toEqual([]);
    await expectNothingLost(load.acks);
  });

  it('should answer reads from the primary while the database replica is down', async () => {
    const replica = stack.processes.find((p) => p.name === 'postgres-replica-1');
    if (!replica?.dataDir) throw new Error('no postgres replica in the stack');
    const misses: number[] = [];
    const load = await runUnderLoad(`fo-pg-${randomUUID().slice(0, 8)}`, async () => {
      await killProcess(replica.name, 'SIGKILL');
      // Uncached keys go to the database's read port; HAProxy must move them to the primary (its backup).
      for (let i = 0; i < 30; i++) misses.push((await http('GET', `/v1/kv/miss-${randomUUID()}`)).status);
      const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
      const pgCtl = '/usr/lib/postgresql/15/bin/pg_ctl';
      const [command = pgCtl, ...args] = [
        ...asUser,
        pgCtl,
        'start',
        '-w',
        '-D',
        replica.dataDir ?? '',
        '-l',
        `${replica.dataDir}.restart.log`,
      ];
      const started = spawnSync(command, args, { encoding: 'utf8' });
      if (started.status !== 0) throw new Error(`could not restart the replica: ${started.stderr}`);
    });
    expect(misses.filter((s) => s !== 404)).toEqual([]);
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    expect(load.writeErrors).toEqual([]);
    await expectNothingLost(load.acks);
  });

  it('should lose no acknowledged write when a RabbitMQ node is SIGKILLed', async () => {
    const load = await runUnderLoad(`fo-rmq-${randomUUID().slice(0, 8)}`, async () => {
      await killProcess('rabbitmq-rmq2', 'SIGKILL');
      await new Promise((r) => setTimeout(r, 3_000));
      await startProcess('rabbitmq-rmq2');
    });
    // Writes that were not confirmed get 503 and were never acknowledged; reads are unaffected.
    expect(load.writeErrors.every((s) => s === 503)).toBe(true);
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    await expectNothingLost(load.acks);
  });
});
