/**
 * Measures the worker side of the write path on a running stack (`npm start`):
 *  1. apply rate: N writes are put on the shard queues while the workers are paused, then the workers are
 *     released and the time until every write is applied is measured — with batching (BATCH_MAX=250, the
 *     default) and one message per transaction (BATCH_MAX=1);
 *  2. shard failover: a client writes to one key every 10 ms; the worker applying its shard is SIGKILLed;
 *     the longest gap between consecutive applied writes is the failover time.
 * Usage: node -r @swc-node/register tools/bench/src/write-path.bench.ts [--writes 20000] [--out <file>]
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect } from 'amqplib';
import { Pool } from 'pg';
import { encodeWriteMessage, shardOf, shardQueueName } from '@keyflow/contracts';
import {
  adminAuthHeaders,
  currentPid,
  isAlive,
  killProcess,
  pollUntil,
  readStack,
  runUnsupervised,
  startProcess,
  type StackInfo,
} from '@keyflow/testing';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const WRITES = Number(flag('--writes', '20000'));
const OUT = flag('--out', 'load-tests/reports/write-path.json');

const log = (line: string) => console.log(`[write-path bench] ${line}`);

/** Workers this bench runs outside the supervisor with other settings, by name. */
const unsupervised = new Map<string, number>();

async function workerPid(name: string): Promise<number> {
  return unsupervised.get(name) ?? (await currentPid(name));
}

/**
 * Restarts every worker with `env` on top of its recorded environment (outside the supervisor, which cannot
 * change a program's environment), or back under the supervisor when `env` is empty; then waits until all
 * shards are held.
 */
async function restartWorkers(env: Record<string, string>): Promise<void> {
  const workers = readStack().processes.filter((p) => p.kind === 'worker');
  for (const worker of workers) {
    const own = unsupervised.get(worker.name);
    if (own) {
      process.kill(own, 'SIGTERM');
      await pollUntil(
        () => Promise.resolve(isAlive(own)),
        (alive) => !alive,
        { what: `${worker.name} (pid ${own}) to exit`, timeoutMs: 30_000 },
      );
      unsupervised.delete(worker.name);
    }
    if (Object.keys(env).length) unsupervised.set(worker.name, await runUnsupervised(worker.name, { env }));
    else await startProcess(worker.name, { waitForHealth: true });
  }
  // Every worker sees every other one, and every shard has a consumer registered.
  await pollUntil(
    () =>
      Promise.all(
        readStack()
          .processes.filter((p) => p.kind === 'worker')
          .map(async (w) => {
            const url = (w.healthUrl ?? '').replace('/health/ready', '/shards');
            return (await (await fetch(url)).json()) as { members: string[]; stats: Array<{ consuming: boolean }> };
          }),
      ),
    (views) => views.every((v) => v.members.length === workers.length && v.stats.every((s) => s.consuming)),
    { what: 'workers to agree on membership and hold every shard', timeoutMs: 60_000, intervalMs: 200 },
  );
}

async function failoverGap(stack: StackInfo, pool: Pool): Promise<{ gapMs: number; killed: string }> {
  const key = `failover-${randomUUID().slice(0, 8)}`;
  const shard = shardOf(key, 16);
  const owner = async () => {
    for (const w of readStack().processes.filter((p) => p.kind === 'worker')) {
      const shards = (await (await fetch(`${w.healthUrl?.replace('/health/ready', '')}/shards`)).json()) as {
        stats: Array<{ shard: number; lastDeliveryAt?: string }>;
      };
      const last = shards.stats[shard]?.lastDeliveryAt;
      if (last && Date.now() - Date.parse(last) < 500) return w.name;
    }
    return undefined;
  };
  let running = true;
  const writer = (async () => {
    while (running) {
      await fetch(`${stack.gateway}/v1/kv/${key}`, {
        method: 'PUT',
        headers: { ...adminAuthHeaders(stack), 'content-type': 'application/json' },
        body: '{"value":1}',
      });
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  await new Promise((r) => setTimeout(r, 2_000));
  const killed = (await owner()) ?? 'worker-1';
  const killedAt = Date.now();
  await killProcess(killed, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 3_000));
  running = false;
  await writer;
  await startProcess(killed, { waitForHealth: true });
  const rows = await pool.query<{ finished_at: Date }>(
    `SELECT finished_at FROM kv_operations WHERE key = $1 AND finished_at > $2 ORDER BY finished_at`,
    [key, new Date(killedAt - 1_000)],
  );
  let gap = 0;
  for (let i = 1; i < rows.rows.length; i++) {
    gap = Math.max(gap, (rows.rows[i]?.finished_at.getTime() ?? 0) - (rows.rows[i - 1]?.finished_at.getTime() ?? 0));
  }
  return { gapMs: gap, killed };
}

async function main(): Promise<void> {
  const stack = readStack();
  const workerPids = await Promise.all(
    stack.processes.filter((p) => p.kind === 'worker').map((p) => currentPid(p.name)),
  );
  if (!workerPids.every((pid) => pid > 0)) throw new Error('start the stack first: npm start');
  const pool = new Pool({ connectionString: stack.db.primary, max: 2 });
  try {
    log(`apply rate, ${WRITES} writes, batching (BATCH_MAX=250)…`);
    const batched = await applyRateN(stack, pool, 250, WRITES);
    log(`  ${batched} writes/s`);
    log(`apply rate, ${WRITES / 10} writes, one per transaction (BATCH_MAX=1)…`);
    const single = await applyRateN(stack, pool, 1, WRITES / 10);
    log(`  ${single} writes/s`);
    await restartWorkers({});
    log('shard failover: SIGKILL the worker applying a key’s shard while it is written every 10 ms…');
    const failover = await failoverGap(stack, pool);
    log(`  longest gap between applied writes: ${failover.gapMs} ms (killed ${failover.killed})`);
    const report = {
      measuredAt: new Date().toISOString(),
      writes: WRITES,
      applyRateBatched: batched,
      applyRateSingle: single,
      speedup: Math.round((batched / single) * 10) / 10,
      shardFailoverGapMs: failover.gapMs,
    };
    mkdirSync(dirname(OUT), { recursive: true });
    writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await pool.end();
  }
}

/** Queues `writes` while the workers are paused, releases them and times the apply. */
async function applyRateN(stack: StackInfo, pool: Pool, batchMax: number, writes: number): Promise<number> {
  await restartWorkers({ BATCH_MAX: String(batchMax) });
  const prefix = `bench-${batchMax}-${randomUUID().slice(0, 6)}`;
  const workers = readStack().processes.filter((p) => p.kind === 'worker');
  const pids = await Promise.all(workers.map((w) => workerPid(w.name)));
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  try {
    const connection = await connect(stack.amqp[0] ?? '');
    const channel = await connection.createConfirmChannel();
    for (let i = 0; i < writes; i++) {
      const key = `${prefix}-${i % 1000}`;
      const message = {
        v: 1 as const,
        id: randomUUID(),
        key,
        type: 'put' as const,
        value: { i },
        acceptedAt: new Date().toISOString(),
      };
      channel.sendToQueue(shardQueueName(shardOf(key, 16)), encodeWriteMessage(message), { persistent: true });
      if (i % 1000 === 999) await channel.waitForConfirms();
    }
    await channel.waitForConfirms();
    await connection.close();
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  }
  const start = Date.now();
  await pollUntil(
    async () =>
      Number(
        (await pool.query<{ n: string }>(`SELECT count(*) AS n FROM kv_operations WHERE key LIKE $1`, [`${prefix}-%`]))
          .rows[0]?.n,
      ),
    (n) => n >= writes,
    { what: `${writes} writes applied`, timeoutMs: 600_000, intervalMs: 200 },
  );
  return Math.round(writes / ((Date.now() - start) / 1000));
}

main().catch((err: unknown) => {
  console.error(`write-path bench failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
