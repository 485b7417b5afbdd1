import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import type { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  killProcess,
  pollUntil,
  postgresPrimary,
  freezeProcess,
  readStack,
  stackPool,
  startProcess,
  supervisorctl,
  tryGatewayRequest,
  type StackInfo,
  type StackProcess,
  redisLogin,
} from '@keyflow/testing';

/**
 * Failure under load, one tier at a time: while clients write and read through the gateway, one process of the
 * tier is SIGKILLed (with its whole process group, as when a node dies) and nobody restarts it: the stack's
 * supervisor does, or the cluster replaces it (Patroni promotes a replica). What must hold: every write the API
 * acknowledged (202) is applied exactly once, per-key versions are gapless, and each client's writes apply in
 * its order. The longest write outage and the time to recover are printed per case.
 */
let stack: StackInfo;
let db: Pool;

interface Ack {
  operationId: string;
  key: string;
  seq: number;
  at: number;
}

/** Through the gateway, as the admin; a failed request answers status 0 (counted, never thrown). */
function http(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return tryGatewayRequest(method, path, { body, headers, stack, timeoutMs: 40_000 });
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
  /** When each write of the probe client (which waits for its writes to be applied) was answered as applied. */
  const appliedAt: number[] = [];
  const pause = () => new Promise((r) => setTimeout(r, 20));
  const loops = [
    (async () => {
      for (let seq = 1; running; seq++) {
        const r = await http('PUT', `/v1/kv/${prefix}-probe`, { value: { seq } }, { prefer: 'wait=30' });
        if (r.status === 200 || r.status === 201) appliedAt.push(Date.now());
        else await pause();
      }
    })(),
    ...Array.from({ length: writers }, async (_, w) => {
      const key = `${prefix}-w${w}`;
      for (let seq = 1; running; seq++) {
        const r = await http('PUT', `/v1/kv/${key}`, { value: { seq } });
        if (r.status === 202) acks.push({ operationId: String(r.json.operationId), key, seq, at: Date.now() });
        else {
          writeErrors.push(r.status);
          await pause();
        }
      }
    }),
    ...Array.from({ length: readers }, async (_, r) => {
      for (let i = 0; running; i++) {
        const status = (await http('GET', `/v1/kv/${readKeys[(r + i) % readKeys.length]}`)).status;
        readStatuses.push(status);
        if (status !== 200) await pause();
      }
    }),
  ];
  return {
    acks,
    writeErrors,
    readStatuses,
    appliedAt,
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
    { what: `operation ${operationId} applied`, timeoutMs: 90_000, intervalMs: 100 },
  );
  return r.json;
}

/**
 * Every acknowledged write applied exactly once; per key, the applied versions are exactly 1..n (gapless) and
 * the client's writes took versions in the order it sent them; the last acknowledged value (or a later one whose
 * acknowledgement was lost with the node) is what a strong read returns.
 */
async function expectNothingLost(acks: Ack[]): Promise<void> {
  expect(acks.length).toBeGreaterThan(20);
  const versions = new Map<string, Array<{ seq: number; version: number }>>();
  // Each acknowledged operation asked for on its own, eight at a time (one after the other, this took seconds).
  const ops = new Array<Record<string, unknown>>(acks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < acks.length; i = next++) ops[i] = await waitApplied(acks[i]?.operationId ?? '');
    }),
  );
  acks.forEach((ack, i) => {
    versions.set(ack.key, [...(versions.get(ack.key) ?? []), { seq: ack.seq, version: Number(ops[i]?.version) }]);
  });
  for (const [key, list] of versions) {
    const bySeq = [...list].sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < bySeq.length; i++) expect(bySeq[i]?.version).toBeGreaterThan(bySeq[i - 1]?.version ?? 0);
    const applied = await db.query<{ id: string; version: string }>(
      `SELECT id, version FROM kv_operations WHERE key = $1 AND status = 'applied' ORDER BY version`,
      [key],
    );
    const appliedVersions = applied.rows.map((r) => Number(r.version));
    expect(appliedVersions, `${key}: applied versions`).toEqual(appliedVersions.map((_, i) => i + 1));
    // Each acknowledged operation is one of the applied ones (operation ids are unique: applied at most once).
    const ids = new Set(applied.rows.map((r) => r.id));
    for (const ack of acks.filter((a) => a.key === key)) expect(ids.has(ack.operationId), ack.operationId).toBe(true);
    const last = bySeq.at(-1);
    const strong = await http('GET', `/v1/kv/${key}?consistency=strong`);
    expect(strong.status).toBe(200);
    expect(Number(strong.json.version)).toBe(appliedVersions.length);
    expect(Number((strong.json.value as { seq: number }).seq)).toBeGreaterThanOrEqual(last?.seq ?? 0);
  }
}

/** The longest time between `times` from the kill until load stopped (no write acknowledged, or applied). */
function longestGap(times: number[], killedAt: number): number {
  times = [killedAt, ...times.filter((t) => t >= killedAt)].sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, (times[i] ?? 0) - (times[i - 1] ?? 0));
  return gap;
}

const measured: Array<{ component: string; outageMs: number; applyGapMs: number; recoveryMs: number }> = [];

/**
 * Runs load, disrupts once 20 writes are acknowledged (by default: SIGKILLs the process `name` gives and waits
 * until the supervisor has it healthy again), then waits for writes to flow again.
 */
async function killUnderLoad(
  component: string,
  name: () => Promise<string>,
  disrupt: (victim: string) => Promise<void> = async (victim) => {
    await killProcess(victim, 'SIGKILL');
    await startProcess(victim, { waitForHealth: true, timeoutMs: 120_000 });
  },
) {
  const prefix = `fo-${component.replace(/\W+/g, '-')}-${randomUUID().slice(0, 8)}`;
  const readKeys = Array.from({ length: 8 }, (_, i) => `${prefix}-read-${i}`);
  await seedReadKeys(readKeys);
  const load = startLoad({ prefix, readKeys });
  await pollUntil(
    () => Promise.resolve(load.acks.length),
    (n) => n >= 20,
    { what: 'load to start', timeoutMs: 30_000 },
  );
  const victim = await name();
  const killedAt = Date.now();
  await disrupt(victim);
  const recoveryMs = Date.now() - killedAt;
  const after = load.acks.length;
  await pollUntil(
    () => Promise.resolve(load.acks.length),
    (n) => n >= after + 20,
    { what: 'writes to flow again', timeoutMs: 60_000 },
  );
  await load.stop();
  const outageMs = longestGap(
    load.acks.map((a) => a.at),
    killedAt,
  );
  const applyGapMs = longestGap(load.appliedAt, killedAt);
  measured.push({ component: `${component} (${victim})`, outageMs, applyGapMs, recoveryMs });
  return load;
}

// A kill, a restart under load and the checks after it; a frozen primary also waits for a promotion and a rejoin.
describe('failover under load, every tier (e2e)', { timeout: 180_000 }, () => {
  beforeAll(() => {
    stack = readStack();
    db = stackPool(stack.db.write, 2);
  });
  afterAll(async () => {
    await db.end();
    await restoreNotRunning();
    console.log(
      ['[failover] per disrupted component: longest time without a 202 / without an applied write; time until back']
        .concat(
          measured.map(
            (m) =>
              `  ${m.component}: accept outage ${m.outageMs} ms, apply outage ${m.applyGapMs} ms, back in ${m.recoveryMs} ms`,
          ),
        )
        .join('\n'),
    );
  });

  it('should lose no acknowledged write when a worker is SIGKILLed', async () => {
    const load = await killUnderLoad('worker', () => Promise.resolve('worker-1'));
    expect(load.writeErrors).toEqual([]);
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    await expectNothingLost(load.acks);
  });

  it('should keep reads answering and lose no acknowledged write when an API instance is SIGKILLed', async () => {
    const load = await killUnderLoad('api', () => Promise.resolve('api-1'));
    // Reads fail over to the other instance; a write in flight on the dead one may fail (not acknowledged).
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    expect(load.writeErrors.every((s) => s === 502 || s === 503)).toBe(true);
    await expectNothingLost(load.acks);
  });

  it('should lose no acknowledged write when the gateway it uses is SIGKILLed (down until the supervisor restarts it)', async () => {
    // The load goes through the first gateway only; the others are their own processes and keep running.
    const load = await killUnderLoad('nginx', () => Promise.resolve('nginx-gateway-1'));
    // Refused connections while that gateway is down: nothing acknowledged, nothing else.
    expect(load.writeErrors.every((s) => s === 0 || s === 502)).toBe(true);
    expect(load.readStatuses.every((s) => s === 200 || s === 0 || s === 502)).toBe(true);
    await expectNothingLost(load.acks);
  });

  it('should lose no acknowledged write when HAProxy is SIGKILLed (database and broker connections cut)', async () => {
    const load = await killUnderLoad('haproxy', () => Promise.resolve('haproxy'));
    expect(load.writeErrors.every((s) => s === 503)).toBe(true);
    await expectNothingLost(load.acks);
  });

  it('should serve reads and lose no acknowledged write when a Redis master is SIGKILLed', async () => {
    const load = await killUnderLoad('redis master', async () => {
      for (const p of readStack().processes.filter((x) => x.kind === 'redis')) {
        if ((await redisRole(p.host ?? '127.0.0.1', p.port ?? 0)) === 'master') return p.name;
      }
      throw new Error('no Redis master');
    });
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    expect(load.writeErrors.every((s) => s === 503)).toBe(true);
    await expectNothingLost(load.acks);
  });

  it('should lose no acknowledged write when a RabbitMQ node is SIGKILLed', async () => {
    const load = await killUnderLoad('rabbitmq node', () => Promise.resolve('rabbitmq-rmq2'));
    // Writes that were not confirmed get 503 and were never acknowledged; reads are unaffected.
    expect(load.writeErrors.every((s) => s === 503)).toBe(true);
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    await expectNothingLost(load.acks);
  });

  it('should answer reads and lose no acknowledged write when a PostgreSQL replica is SIGKILLed', async () => {
    const load = await killUnderLoad('postgres replica', async () => {
      const primary = await postgresPrimary();
      const replica = readStack().processes.find((p) => p.kind === 'postgres' && p.name !== primary?.name);
      if (!replica) throw new Error('no PostgreSQL replica');
      return replica.name;
    });
    expect(load.readStatuses.filter((s) => s !== 200)).toEqual([]);
    expect(load.writeErrors.every((s) => s === 503)).toBe(true);
    await expectNothingLost(load.acks);
  });

  it('should fail over and lose no acknowledged write when the PostgreSQL primary is SIGKILLed', async () => {
    const load = await killUnderLoad('postgres primary', async () => {
      const primary = await postgresPrimary();
      if (!primary) throw new Error('no PostgreSQL primary');
      return primary.name;
    });
    // Writes resume within 30 s, on the promoted replica or the restarted primary, whichever Patroni chose.
    expect(measured.at(-1)?.applyGapMs).toBeLessThan(30_000);
    // Only the broker's or the database's 503 (the write was not acknowledged); the statuses, should another appear.
    expect(load.writeErrors.filter((s) => s !== 503)).toEqual([]);
    await expectNothingLost(load.acks);
    const primary = await pollUntil(postgresPrimary, (p) => p !== undefined, { what: 'a PostgreSQL primary' });
    expect(primary?.kind).toBe('postgres');
  });

  it('should promote a replica when the primary stops answering, and rejoin the old primary as a replica', async () => {
    let old: StackProcess | undefined;
    const load = await killUnderLoad(
      'postgres primary frozen',
      async () => {
        // Patroni promotes only a replica known to be synchronous (anything else could lose commits). Right after
        // the previous test's primary restart there may be none for a few seconds: wait for a steady cluster.
        await waitForSyncStandby();
        old = await postgresPrimary();
        if (!old) throw new Error('no PostgreSQL primary');
        return old.name;
      },
      async (victim) => {
        // SIGSTOP: the node hangs (as in a partition) instead of dying, so the supervisor cannot help; Patroni's
        // leader key expires and the synchronous replica takes over. Every process of the node stops: Patroni,
        // the postmaster and each backend (PostgreSQL runs them in sessions of their own).
        const resume = await freezeProcess(victim);
        try {
          await pollUntil(postgresPrimary, (p) => p !== undefined && p.name !== victim, {
            what: 'Patroni to promote a replica',
            timeoutMs: 30_000,
            intervalMs: 250,
          });
        } finally {
          resume();
        }
      },
    );
    expect(measured.at(-1)?.applyGapMs).toBeLessThan(30_000);
    expect(load.writeErrors.every((s) => s === 503)).toBe(true);
    await expectNothingLost(load.acks);
    // The old primary comes back as a replica (pg_rewind), with nobody typing a command.
    await pollUntil(
      async () => (await fetch(`http://${old?.host}:${old?.restApiPort}/replica`).catch(() => undefined))?.status,
      (status) => status === 200,
      { what: `${old?.name} to rejoin as a replica`, timeoutMs: 90_000, intervalMs: 500 },
    );
  });
});

/**
 * For the suites after this one: starts whatever the supervisor does not report RUNNING and waits for it, all at
 * once. One `supervisorctl status` when the stack is whole (`restoreProcesses` asks about each of its ~30 processes
 * in turn: half a minute on two busy cores).
 */
async function restoreNotRunning(): Promise<void> {
  const info = readStack();
  const status = await supervisorctl(['status'], info);
  const running = new Set(
    status
      .split('\n')
      .map((line) => line.trim().split(/\s+/))
      .filter(([, state]) => state === 'RUNNING')
      .map(([program]) => program),
  );
  const down = info.processes.filter((p) => !running.has(p.program ?? p.name));
  await Promise.all(down.map((p) => startProcess(p.name, { timeoutMs: 120_000 }).catch(() => undefined)));
}

/** Until Patroni's cluster view has a leader and a synchronous replica that is not behind. */
async function waitForSyncStandby(): Promise<void> {
  await pollUntil(
    async () => {
      for (const api of readStack().patroni) {
        const res = await fetch(`${api}/cluster`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
        if (res?.ok) return ((await res.json()) as { members: Array<{ role: string; lag?: unknown }> }).members;
      }
      return [];
    },
    (members) =>
      members.some((m) => m.role === 'leader') && members.some((m) => m.role === 'sync_standby' && m.lag === 0),
    { what: 'a leader and a synchronous replica in Patroni', timeoutMs: 60_000, intervalMs: 500 },
  );
}

async function redisRole(host: string, port: number): Promise<string> {
  const client = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1, ...redisLogin('admin') });
  try {
    await client.connect();
    const [role] = (await client.role()) as [string, ...unknown[]];
    return role;
  } finally {
    client.disconnect();
  }
}
