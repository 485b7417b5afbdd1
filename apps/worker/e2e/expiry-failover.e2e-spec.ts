import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiryOperationId, shardOf } from '@keyflow/contracts';
import {
  gatewayRequest,
  killProcess,
  pollUntil,
  readStack,
  restoreProcesses,
  startProcess,
  type StackInfo,
} from '@keyflow/testing';

/**
 * Expiry across a worker's death. Keys with a short time to live are written on the shards one worker holds, and that
 * worker is SIGKILLed before they expire: its expiry sweeper dies with it. The keys must still be deleted, each by
 * exactly one versioned delete (version 2), by whoever holds their shards next: the other worker once membership
 * notices, or the killed one restarted by the supervisor. Every expiry either sweeper published is the same operation
 * (its id is derived from the key and the version), so whatever both of them publish takes effect once.
 */
let stack: StackInfo;
const run = randomUUID().slice(0, 8);
const SHARDS = 16;

function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return gatewayRequest(method, path, { body, headers, stack, timeoutMs: 30_000, expectJson: false });
}

/** The shards a worker holds, from its own `/shards`. */
async function homeShards(worker: string): Promise<number[]> {
  const proc = stack.processes.find((p) => p.name === worker);
  if (!proc?.healthUrl) throw new Error(`no health URL for ${worker}`);
  const response = await fetch(`${new URL(proc.healthUrl).origin}/shards`);
  return ((await response.json()) as { home: number[] }).home;
}

describe('keys with a time to live across a worker kill (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  afterAll(async () => {
    await restoreProcesses({ kind: 'worker', waitForHealth: true });
  });

  it('should delete every expiring key of a killed worker’s shards once, as one version, after it died', async () => {
    const victim = 'worker-1';
    const home = new Set(
      await pollUntil(
        () => homeShards(victim),
        (h) => h.length > 0 && h.length < SHARDS,
      ),
    );
    const keys: string[] = [];
    for (let i = 0; keys.length < 30; i++) {
      const k = `ttl-kill-${run}-${i}`;
      if (home.has(shardOf(k, SHARDS))) keys.push(k);
    }
    const puts = await Promise.all(
      keys.map((k) => call('PUT', `/v1/kv/${k}`, { value: k, ttl: 2 }, { prefer: 'wait=15' })),
    );
    expect(puts.map((r) => r.status)).toEqual(keys.map(() => 201));

    await killProcess(victim, 'SIGKILL');
    // Reads do not wait for the delete: from expiresAt on every key is gone.
    await pollUntil(
      () => Promise.all(keys.map((k) => call('GET', `/v1/kv/${k}?consistency=strong`))),
      (reads) => reads.every((r) => r.status === 404),
      { timeoutMs: 10_000, what: 'every key to read as 404' },
    );
    const expiries = await pollUntil(
      () => Promise.all(keys.map((k) => call('GET', `/v1/operations/${expiryOperationId(k, 1)}`))),
      (ops) => ops.every((r) => r.json.status === 'applied'),
      { timeoutMs: 30_000, intervalMs: 250, what: 'every expiry delete to be applied' },
    );
    expect(expiries.map((r) => [r.json.type, r.json.version])).toEqual(keys.map(() => ['delete', 2]));
    await startProcess(victim, { waitForHealth: true });

    // Exactly one version each, however many times the expiry was published: the next write is version 3.
    const again = await Promise.all(
      keys.map((k) => call('PUT', `/v1/kv/${k}`, { value: 'again' }, { prefer: 'wait=15' })),
    );
    expect(again.map((r) => [r.status, r.json.version])).toEqual(keys.map(() => [201, 3]));
  });
});
