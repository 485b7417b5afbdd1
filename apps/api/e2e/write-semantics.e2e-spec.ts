import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  currentPid,
  gatewayRequest,
  pollUntil,
  readStack,
  type GatewayRequestOptions,
  type StackInfo,
  type StackProcessKind,
} from '@keyflow/testing';
import { problem } from './problem.util';

/** Versions, conditions, idempotency and waiting for the outcome, through the gateway. */
let stack: StackInfo;
const run = randomUUID().slice(0, 8);
const key = (name: string) => `ws-${run}-${name}`;
const UUID = expect.stringMatching(/^[0-9a-f-]{36}$/);

/** Through the stack's gateway (or `options.gateway`), as its admin. */
function call(method: string, path: string, options: GatewayRequestOptions = {}) {
  return gatewayRequest(method, path, { stack, timeoutMs: 60_000, ...options });
}

const put = (k: string, value: unknown, headers: Record<string, string> = {}) =>
  call('PUT', `/v1/kv/${k}`, { body: { value }, headers: { prefer: 'wait=10', ...headers } });

/** Runs `fn` while every stack process of `kind` is stopped (SIGSTOP), and continues them (SIGCONT) after. */
async function whileStopped<T>(kind: StackProcessKind, fn: () => Promise<T>): Promise<T> {
  // The supervisor's pids (stack.json's may be stale after restarts by earlier suites).
  const pids = await Promise.all(
    readStack()
      .processes.filter((p) => p.kind === kind)
      .map((p) => currentPid(p.name)),
  );
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  try {
    return await fn();
  } finally {
    for (const pid of pids) process.kill(pid, 'SIGCONT');
  }
}

describe('write semantics (e2e)', () => {
  beforeAll(() => {
    stack = readStack();
  });

  describe('Prefer: wait', () => {
    it('should answer 201 when a write creates the key and 200 when it updates it', async () => {
      const k = key('wait');
      const created = await put(k, 1);
      expect(created.status).toBe(201);
      expect(created.json).toEqual({ operationId: UUID, key: k, status: 'applied', version: 1 });
      expect(created.headers.get('etag')).toBe('"1"');
      const updated = await put(k, 2);
      expect(updated.status).toBe(200);
      expect(updated.json).toEqual({ operationId: UUID, key: k, status: 'applied', version: 2 });
    });

    it('should answer 204 for a delete, and continue the version when the key is written again', async () => {
      const k = key('del');
      await put(k, 'a');
      const deleted = await call('DELETE', `/v1/kv/${k}`, { headers: { prefer: 'wait=10' } });
      expect(deleted.status).toBe(204);
      expect(deleted.headers.get('etag')).toBe('"2"');
      const again = await put(k, 'b');
      expect(again.status).toBe(201);
      expect(again.json).toMatchObject({ version: 3 });
    });

    it('should answer 202 when the write is not applied within the wait', async () => {
      const k = key('slow');
      const response = await whileStopped('worker', () => put(k, 'late', { prefer: 'wait=1' }));
      expect(response.status).toBe(202);
      expect(response.json).toEqual({ operationId: UUID, key: k, status: 'accepted' });
      const op = await pollUntil(
        () => call('GET', `/v1/operations/${String(response.json.operationId)}`),
        (r) => r.json.status === 'applied',
        { what: 'the delayed write to be applied' },
      );
      expect(op.json).toMatchObject({ status: 'applied', version: 1 });
    });
  });

  describe('conditional writes', () => {
    it('should apply If-Match with the current version and refuse a stale one with 412', async () => {
      const k = key('ifmatch');
      await put(k, 'v1');
      const ok = await put(k, 'v2', { 'if-match': '"1"' });
      expect(ok.status).toBe(200);
      expect(ok.json).toMatchObject({ version: 2 });

      const stale = await put(k, 'v3', { 'if-match': '"1"' });
      expect(stale.status).toBe(412);
      expect(stale.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(stale.json).toEqual({
        ...problem(
          412,
          'precondition-failed',
          'Precondition failed',
          "the write's condition did not hold: the key is at version 2",
          `/v1/kv/${k}`,
        ),
        operationId: UUID,
        currentVersion: 2,
      });
      const op = await call('GET', `/v1/operations/${String(stale.json.operationId)}`);
      expect(op.json).toMatchObject({ status: 'conflict', version: 2 });
      expect((await call('GET', `/v1/kv/${k}?consistency=strong`)).json).toMatchObject({ value: 'v2', version: 2 });
    });

    it('should create with If-None-Match: * only when the key does not exist', async () => {
      const k = key('create');
      const created = await put(k, 'first', { 'if-none-match': '*' });
      expect(created.status).toBe(201);
      const second = await put(k, 'second', { 'if-none-match': '*' });
      expect(second.status).toBe(412);
      expect(second.json).toMatchObject({
        currentVersion: 1,
        detail: "the write's condition did not hold: the key is at version 1",
      });
    });

    it('should refuse If-Match on a key that does not exist, and report the conflict without waiting', async () => {
      const k = key('nokey');
      const r = await call('PUT', `/v1/kv/${k}`, { body: { value: 1 }, headers: { 'if-match': '*' } });
      expect(r.status).toBe(202);
      const op = await pollUntil(
        () => call('GET', `/v1/operations/${String(r.json.operationId)}`),
        (x) => x.json.status !== 'accepted',
        { what: 'the conditional write to finish' },
      );
      expect(op.json).toMatchObject({ status: 'conflict', version: 0 });
    });

    it('should refuse a weak If-Match tag with 412 at once and write nothing (If-Match compares strongly)', async () => {
      const k = key('weak');
      await put(k, 'v1');
      const weak = await put(k, 'v2', { 'if-match': 'W/"1"' });
      expect(weak.status).toBe(412);
      expect(weak.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(weak.json).toEqual(
        problem(
          412,
          'precondition-failed',
          'Precondition failed',
          'If-Match: W/"1" is a weak entity tag, which never matches: If-Match compares strongly (RFC 9110 ' +
            'section 13.1.1); send the version as a strong tag, such as "3"',
          `/v1/kv/${k}`,
        ),
      );
      expect((await call('GET', `/v1/kv/${k}?consistency=strong`)).json).toMatchObject({ value: 'v1', version: 1 });
    });

    it('should answer 400 for a malformed condition', async () => {
      const r = await put(key('bad'), 1, { 'if-match': 'three' });
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ detail: 'If-Match must be * or one ETag such as "3" (the quoted version)' });
    });
  });

  describe('Idempotency-Key', () => {
    it('should return the original operation for a repeat and write nothing', async () => {
      const k = key('idem');
      const idem = `idem-${randomUUID()}`;
      const first = await call('PUT', `/v1/kv/${k}`, { body: { value: 'once' }, headers: { 'idempotency-key': idem } });
      expect(first.status).toBe(202);
      const repeat = await call('PUT', `/v1/kv/${k}`, {
        body: { value: 'once' },
        headers: { 'idempotency-key': idem },
      });
      expect(repeat.status).toBe(202);
      expect(repeat.json).toEqual(first.json);
      expect(repeat.headers.get('idempotent-replayed')).toBe('true');

      const waited = await call('PUT', `/v1/kv/${k}`, {
        body: { value: 'once' },
        headers: { 'idempotency-key': idem, prefer: 'wait=10' },
      });
      await pollUntil(
        () => call('GET', `/v1/operations/${String(first.json.operationId)}`),
        (r) => r.json.status === 'applied',
        { what: 'the idempotent write to be applied' },
      );
      expect(waited.json.operationId).toBe(first.json.operationId);
      const strong = await call('GET', `/v1/kv/${k}?consistency=strong`);
      expect(strong.json).toMatchObject({ value: 'once', version: 1 });
    });

    it('should answer 422 when the key is reused for a different request', async () => {
      const k = key('reuse');
      const idem = `idem-${randomUUID()}`;
      const first = await call('PUT', `/v1/kv/${k}`, { body: { value: 1 }, headers: { 'idempotency-key': idem } });
      const other = await call('PUT', `/v1/kv/${k}`, { body: { value: 2 }, headers: { 'idempotency-key': idem } });
      expect(other.status).toBe(422);
      expect(other.json).toEqual({
        type: 'https://keyflow.dev/problems/idempotency-key-reused',
        title: 'Idempotency key reused',
        status: 422,
        detail: 'this Idempotency-Key was already used for a different request; use a new key for a new request',
        operationId: first.json.operationId,
        instance: `/v1/kv/${k}`,
        requestId: expect.any(String),
      });
      const del = await call('DELETE', `/v1/kv/${k}`, { headers: { 'idempotency-key': idem } });
      expect(del.status).toBe(422);
    });
  });

  describe('when the broker stalls (outcome unknown)', () => {
    // The API waits PUBLISH_CONFIRM_TIMEOUT_MS (5 s) for a confirm; the nodes stay paused until every attempt
    // has given up on its confirm. What was written to the paused nodes' sockets may still reach the queues.
    it('should never answer 202 without a confirm, keep the operation id in the 503, and apply a retry exactly once', async () => {
      const k = key('stall');
      const idem = `idem-${randomUUID()}`;
      const attempt = (gateway: string) =>
        call('PUT', `/v1/kv/${k}`, { body: { value: 'once' }, headers: { 'idempotency-key': idem }, gateway });
      // The first attempt and a repeat through another gateway, racing: whichever claims the key, neither
      // may be told `accepted` while nothing is confirmed. And a write without a key, for its 503.
      const [first, repeat, unkeyed] = await whileStopped('rabbitmq', () =>
        Promise.all([
          attempt(stack.gateways[0] ?? stack.gateway),
          attempt(stack.gateways[stack.gateways.length - 1] ?? stack.gateway),
          call('PUT', `/v1/kv/${key('stall-nokey')}`, { body: { value: 1 } }),
        ]),
      );
      const operationId = String(first.json.operationId);
      const keyed = {
        ...problem(
          503,
          'broker-unavailable',
          'Write path unavailable',
          'the message broker did not confirm the write in time; it may still be applied. Retry with the same Idempotency-Key: the retry re-sends this operation, which takes effect at most once.',
          `/v1/kv/${k}`,
        ),
        operationId: UUID,
      };
      expect(first.status).toBe(503);
      expect(first.json).toEqual(keyed);
      expect(repeat.status).toBe(503);
      expect(repeat.json).toEqual({ ...keyed, operationId });
      // Sent without a key, it got one from the gateway (gw-<request id>), which the answer names.
      expect(unkeyed.status).toBe(503);
      expect(unkeyed.json).toEqual({
        ...problem(
          503,
          'broker-unavailable',
          'Write path unavailable',
          `the message broker did not confirm the write in time; it may still be applied. Retry with the header Idempotency-Key: gw-${String(unkeyed.json.requestId)} (the key the gateway gave this write): the retry re-sends this operation, which takes effect at most once.`,
          `/v1/kv/${key('stall-nokey')}`,
        ),
        operationId: UUID,
      });

      // The client retries with the same key until it is told accepted: always the same operation.
      const retry = await pollUntil(
        () => attempt(stack.gateway),
        (r) => r.status === 202,
        { what: 'the broker to confirm the retried write', timeoutMs: 40_000, intervalMs: 500 },
      );
      expect(retry.json).toEqual({ operationId, key: k, status: 'accepted' });
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      // A 202 is always followed: the operation is known right away, never a 404.
      const followed = await call('GET', `/v1/operations/${operationId}`);
      expect(followed.status).toBe(200);
      expect(followed.json).toMatchObject({
        id: operationId,
        key: k,
        status: expect.stringMatching(/^(accepted|applied)$/),
      });

      await pollUntil(
        () => call('GET', `/v1/operations/${operationId}`),
        (r) => r.json.status === 'applied',
        { what: 'the retried write to be applied' },
      );
      // Every copy of the operation (the stalled ones that reached the queue, the retry) is ahead of this write
      // in the shard's queue: version 2 means the retried write took effect exactly once.
      const next = await put(k, 'next');
      expect(next.json).toEqual({ operationId: UUID, key: k, status: 'applied', version: 2 });
      expect((await call('GET', `/v1/operations/${operationId}`)).json).toMatchObject({
        status: 'applied',
        version: 1,
      });
    }, 90_000);
  });

  describe('strong reads', () => {
    it('should see an applied write on the primary while the cache may lag', async () => {
      const k = key('strong');
      const created = await put(k, { n: 1 });
      expect(created.status).toBe(201);
      const strong = await call('GET', `/v1/kv/${k}?consistency=strong`);
      expect(strong.json).toEqual({ key: k, value: { n: 1 }, version: 1, updatedAt: expect.any(String) });
      expect(strong.headers.get('etag')).toBe('"1"');
    });
  });
});
