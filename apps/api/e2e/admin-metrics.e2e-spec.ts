import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { KeyflowClient } from '@keyflow/client';
import { adminAuthHeaders, gatewayRequest, pollUntil, readStack, type StackInfo } from '@keyflow/testing';
import { problem } from './problem.util';

/**
 * `GET /v1/admin/metrics` through the gateways, against the test stack's own Prometheus (the stack gives the APIs its
 * URL): every answer is checked against the OpenAPI document by `gatewayRequest`.
 */
interface Panel {
  name: string;
  unit: string;
  series: Array<{ label: string; points: Array<{ t: number; v: number }> }>;
}

let stack: StackInfo;
const run = randomUUID().slice(0, 8);
const PASSWORD = `pw-${randomUUID()}`;

const metrics = (query = '') => gatewayRequest('GET', `/v1/admin/metrics${query}`, { stack });
const panel = (body: Record<string, unknown>, name: string): Panel | undefined =>
  (body.panels as Panel[]).find((p) => p.name === name);
const lastValue = (p: Panel | undefined, label: string): number | undefined =>
  p?.series.find((s) => s.label === label)?.points.at(-1)?.v;

describe('GET /v1/admin/metrics (e2e through the gateways)', { timeout: 120_000 }, () => {
  beforeAll(() => {
    stack = readStack();
    if (!stack.prometheus) throw new Error('the test stack should run Prometheus');
  });

  it("should chart the stack's request rate, write latency, backlog, replication slot lag and instances up for an admin", async () => {
    // A write, so that write visibility has observations to take a quantile of.
    const put = await gatewayRequest('PUT', `/v1/kv/admin-metrics-${run}`, {
      body: { value: 1 },
      headers: { prefer: 'wait=10' },
      stack,
    });
    expect(put.status).toBe(201);
    const r = await pollUntil(
      () => metrics(),
      (m) =>
        m.status === 200 &&
        (panel(m.json, 'requestRate')?.series.length ?? 0) === 2 &&
        (panel(m.json, 'writeVisibilityP99')?.series[0]?.points.length ?? 0) > 0 &&
        lastValue(panel(m.json, 'instancesUp'), 'redis') === 6,
      { what: 'request rate, write latency and Redis up to be charted', timeoutMs: 90_000, intervalMs: 2_000 },
    );
    expect(r.json).toMatchObject({ window: '15m', stepSeconds: 15 });
    expect(Date.parse(String(r.json.end)) - Date.parse(String(r.json.start))).toBe(15 * 60_000);
    expect((r.json.panels as Panel[]).map((p) => [p.name, p.unit])).toEqual([
      ['requestRate', 'req/s'],
      ['errorRatio', 'ratio'],
      ['writeVisibilityP99', 'seconds'],
      ['shardBacklog', 'messages'],
      ['replicationLag', 'bytes'],
      ['instancesUp', 'instances'],
    ]);
    const requests = panel(r.json, 'requestRate');
    expect(requests?.series.map((s) => s.label)).toEqual(['api-1', 'api-2']);
    for (const s of requests?.series ?? []) {
      expect(s.points.length).toBeGreaterThan(0);
      for (const p of s.points) {
        expect(p.v).toBeGreaterThanOrEqual(0);
        expect(p.t % 15).toBe(0);
        expect(p.t * 1000).toBeGreaterThanOrEqual(Date.parse(String(r.json.start)));
        expect(p.t * 1000).toBeLessThanOrEqual(Date.parse(String(r.json.end)));
      }
    }
    // The write waited for its confirm and its apply: a p99 above zero, below the alert's 1 s.
    const p99 = panel(r.json, 'writeVisibilityP99')?.series[0]?.points.at(-1)?.v ?? 0;
    expect(p99).toBeGreaterThan(0);
    expect(panel(r.json, 'shardBacklog')?.series.map((s) => s.label)).toEqual(['dead letters', 'shards']);
    // Patroni keeps a replication slot on the primary for each of the two replicas. A failover earlier in the window
    // (the failover suite's) leaves the old primary's slots in it too, ending when it stepped down: two are current.
    const end = Date.parse(String(r.json.end)) / 1000;
    const lag = panel(r.json, 'replicationLag')?.series ?? [];
    expect(lag.filter((s) => (s.points.at(-1)?.t ?? 0) >= end - 60)).toHaveLength(2);
    const up = panel(r.json, 'instancesUp');
    expect(up?.series.map((s) => s.label)).toEqual(
      expect.arrayContaining(['keyflow-api', 'keyflow-worker', 'postgres', 'rabbitmq', 'redis']),
    );
    expect(lastValue(up, 'keyflow-api')).toBe(2);
    expect(lastValue(up, 'rabbitmq')).toBe(3);
  });

  it('should take a longer window in coarser steps', async () => {
    const r = await metrics('?window=1h');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ window: '1h', stepSeconds: 60 });
  });

  it('should refuse a window it does not offer, or a query, with 400 problem+json', async () => {
    expect(await metrics('?window=2d')).toMatchObject({
      status: 400,
      json: {
        ...problem(
          400,
          'invalid-request',
          'Invalid request',
          'window must be one of the following values: 15m, 1h, 6h',
          '/v1/admin/metrics',
        ),
        errors: ['window must be one of the following values: 15m, 1h, 6h'],
      },
    });
    expect(await metrics('?query=up')).toMatchObject({
      status: 400,
      json: { detail: 'property query should not exist' },
    });
  });

  it('should refuse a user who is not an admin with 403, and no credentials with 401', async () => {
    const username = `metrics-user-${run}`;
    const created = await gatewayRequest('POST', '/v1/users', {
      body: { username, password: PASSWORD, role: 'user' },
      headers: adminAuthHeaders(stack),
      stack,
    });
    expect(created.status).toBe(201);
    const client = new KeyflowClient({ baseUrl: stack.gateway });
    await client.login(username, PASSWORD);
    await expect(client.metrics()).rejects.toMatchObject({ status: 403 });
    const anonymous = await gatewayRequest('GET', '/v1/admin/metrics', { stack, asAdmin: false });
    expect(anonymous.status).toBe(401);
  });
});
