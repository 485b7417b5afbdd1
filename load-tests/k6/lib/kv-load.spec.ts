import { beforeEach, describe, expect, it, vi } from 'vitest';

/**
 * k6 itself is not installed where the unit tests run, so its modules are replaced by a synchronous in-memory
 * keyflow: enough to check that the scripts build valid options and drive the contract the way the Node runner does.
 */
const fake = vi.hoisted(() => {
  interface Call {
    method: string;
    url: string;
    body: string | null;
    params: { headers?: Record<string, string>; tags?: Record<string, string> } | undefined;
  }
  const state = {
    store: new Map<string, string>(),
    /** GETs of a key answer 404 until it has been read this many times after its write (eventual visibility). */
    hiddenReads: 0,
    pendingReads: new Map<string, number>(),
    calls: [] as Call[],
    exec: {
      scenario: { iterationInTest: 0, startTime: Date.now() },
      vu: { idInTest: 1, iterationInScenario: 0 },
    },
    metrics: new Map<string, number[]>(),
  };
  const request = (method: string, url: string, body: string | null, params?: Call['params']) => {
    state.calls.push({ method, url, body, params });
    const path = new URL(url).pathname;
    const v1 = /^\/v1\/kv\/(.+)$/.exec(path);
    const store = /^\/store\/(.+)$/.exec(path);
    const key = decodeURIComponent(v1?.[1] ?? store?.[1] ?? '');
    if (method === 'PUT') {
      const parsed = JSON.parse(body ?? '{}') as { key?: string; value: unknown };
      const k = path === '/store' ? (parsed.key ?? '') : key;
      state.store.set(k, JSON.stringify(parsed.value));
      state.pendingReads.set(k, state.hiddenReads);
      return { status: path === '/store' ? 200 : 202, body: null };
    }
    if (method === 'DELETE') {
      state.store.delete(key);
      return { status: 202, body: null };
    }
    const hidden = state.pendingReads.get(key) ?? 0;
    if (hidden > 0) {
      state.pendingReads.set(key, hidden - 1);
      return { status: 404, body: '{"status":404}' };
    }
    const value = state.store.get(key);
    return value === undefined
      ? { status: 404, body: '{"status":404}' }
      : { status: 200, body: `{"key":${JSON.stringify(key)},"value":${value}}` };
  };
  return { state, request };
});

vi.mock('k6', () => ({ check: vi.fn(), sleep: vi.fn() }));
vi.mock('k6/execution', () => ({ default: fake.state.exec }));
vi.mock('k6/http', () => ({
  default: {
    request: fake.request,
    batch: (reqs: Array<{ method: string; url: string; body?: string | null; params?: never }>) =>
      reqs.map((r) => fake.request(r.method, r.url, r.body ?? null, r.params)),
    expectedStatuses: (...statuses: number[]) => ({ statuses }),
  },
}));
vi.mock('k6/metrics', () => {
  class Metric {
    constructor(readonly name: string) {
      fake.state.metrics.set(name, []);
    }
    add(value: number): void {
      fake.state.metrics.get(this.name)?.push(value);
    }
  }
  return { Trend: Metric, Counter: Metric };
});

const { buildOptions, drainBacklog, loadScenario, readEnv, runIteration, setupKeys } = await import('./kv-load.ts');
const { defineScenarios } = await import('../../scenarios/scenario-definitions.ts');

const env = { baseUrl: 'http://127.0.0.1:8080', token: 'secret', scale: 1, baselineRps: undefined };

describe('kv-load', () => {
  beforeEach(() => {
    fake.state.store.clear();
    fake.state.pendingReads.clear();
    fake.state.calls.length = 0;
    fake.state.hiddenReads = 0;
    for (const values of fake.state.metrics.values()) values.length = 0;
    fake.state.exec.scenario.iterationInTest = 0;
    fake.state.exec.vu.iterationInScenario = 0;
  });

  describe(readEnv.name, () => {
    it('should read BASE_URL, the token, SCALE and BASELINE_RPS', () => {
      (globalThis as { __ENV?: Record<string, string> }).__ENV = {
        BASE_URL: 'http://127.0.0.1:9000/',
        KEYFLOW_TOKEN: 't',
        SCALE: '0.1',
        BASELINE_RPS: '12000',
      };
      expect(readEnv()).toEqual({ baseUrl: 'http://127.0.0.1:9000', token: 't', scale: 0.1, baselineRps: 12_000 });
      (globalThis as { __ENV?: Record<string, string> }).__ENV = {};
      expect(readEnv()).toEqual({
        baseUrl: 'http://127.0.0.21:8080',
        token: undefined,
        scale: 1,
        baselineRps: undefined,
      });
    });
  });

  describe(buildOptions.name, () => {
    it('should turn a scenario into one k6 scenario with its thresholds', () => {
      const options = buildOptions(loadScenario('reference', env), env);
      expect(options.scenarios).toEqual({
        reference: {
          executor: 'ramping-vus',
          startVUs: 0,
          stages: [
            { duration: '30s', target: 300 },
            { duration: '60s', target: 300 },
          ],
          gracefulRampDown: '5s',
          gracefulStop: '10s',
        },
      });
      expect(options.thresholds).toEqual(defineScenarios(1).reference.thresholds);
    });

    it('should add baseline targets as absolute thresholds when BASELINE_RPS is known', () => {
      const options = buildOptions(loadScenario('cache-hit-get', env), { ...env, baselineRps: 10_000 });
      expect(options.thresholds?.['http_reqs{op:get}']).toEqual(['rate>=6000']);
    });
  });

  describe(setupKeys.name, () => {
    it('should pre-write the key space and wait until every key reads back', () => {
      fake.state.hiddenReads = 2;
      const scenario = loadScenario('cache-hit-get', { ...env, scale: 0.1 });
      const data = setupKeys(scenario, env);
      const puts = fake.state.calls.filter((c) => c.method === 'PUT');
      expect(puts).toHaveLength(scenario.keySpace);
      expect(puts[0]?.params?.headers).toMatchObject({ Authorization: 'Bearer secret' });
      // Each key was read until visible: twice hidden, then once found.
      expect(fake.state.calls.filter((c) => c.method === 'GET')).toHaveLength(scenario.keySpace * 3);
      expect(data.prefix).toMatch(/^lt-cache-hit-get-/);
    });

    it('should write nothing for a PUT-only mix', () => {
      setupKeys(loadScenario('sustained-writes', env), env);
      expect(fake.state.calls).toHaveLength(0);
    });
  });

  describe(runIteration.name, () => {
    it('should tag the request with its operation and record the visibility of a sampled PUT', () => {
      fake.state.hiddenReads = 3;
      const scenario = {
        ...loadScenario('sustained-writes', env),
        writeVisibility: { sampleRate: 1, timeoutMs: 60_000 },
      };
      runIteration(scenario, env, { prefix: 'lt-test' });
      const [put, ...polls] = fake.state.calls;
      expect(put?.params?.tags).toEqual({ op: 'put', traffic: 'load' });
      expect(put?.url).toMatch(/\/v1\/kv\/lt-test-vis-1-0$/);
      expect(polls.map((c) => c.params?.tags?.op)).toEqual(['visibility', 'visibility', 'visibility', 'visibility']);
      expect(fake.state.metrics.get('write_visibility')).toHaveLength(1);
    });

    it('should send nothing once the request budget is spent', () => {
      const scenario = loadScenario('reference', env);
      fake.state.exec.scenario.iterationInTest = 60_000;
      runIteration(scenario, env, { prefix: 'lt-test' });
      expect(fake.state.calls).toHaveLength(0);
      fake.state.exec.scenario.iterationInTest = 59_999;
      runIteration(scenario, env, { prefix: 'lt-test' });
      expect(fake.state.calls).toHaveLength(1);
      expect(fake.state.metrics.get('request_budget_elapsed')).toHaveLength(1);
    });
  });

  describe(drainBacklog.name, () => {
    it('should record how long each marker took to become readable', () => {
      const scenario = loadScenario('sustained-writes', env);
      drainBacklog(scenario, env, { prefix: 'lt-test' });
      expect(fake.state.metrics.get('write_backlog_drain')).toHaveLength(scenario.backlogDrain?.markers ?? -1);
    });
  });
});
