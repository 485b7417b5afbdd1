import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineScenarios, type ScenarioDefinition } from '../../../scenarios/scenarios';
import { buildFakeKeyflow } from '../testing/fake-keyflow.server';
import { ScenarioRunner, ScenarioSetupError } from './scenario-runner.service';

describe(ScenarioRunner.name, () => {
  const token = 'load-test-token';
  let app: FastifyInstance;
  let baseUrl: string;
  const runner = new ScenarioRunner();
  const smoke = defineScenarios(0.01);
  const lines: string[] = [];
  const options = () => ({
    target: { baseUrl, token },
    rssProcesses: [{ name: 'api-self', pid: process.pid }],
    progressIntervalMs: 0,
    log: (line: string) => lines.push(line),
  });

  beforeAll(async () => {
    app = buildFakeKeyflow({ applyDelayMs: 3, token });
    baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  afterAll(async () => {
    await app.close();
  });

  describe('run', () => {
    it('should drive an open-model mix, probe write visibility and evaluate every threshold', async () => {
      const base = smoke['read-heavy'];
      const scenario: ScenarioDefinition = {
        ...base,
        // The fake shares the test's event loop, so the rate stays modest; the arithmetic is what is asserted.
        executor: {
          executor: 'constant-arrival-rate',
          rate: 300,
          timeUnit: '1s',
          duration: '1s',
          preAllocatedVUs: 8,
          maxVUs: 32,
          gracefulStop: '5s',
        },
        mix: { get: 80, put: 20, delete: 0 },
        writeVisibility: { sampleRate: 0.2, timeoutMs: 5000 },
      };
      const result = await runner.run(scenario, options());

      const all = result.operations.find((o) => o.op === 'all');
      expect(result.operations.map((o) => o.op)).toEqual(['get', 'put', 'all']);
      expect((all?.requests ?? 0) + result.load.dropped).toBe(300);
      expect(all?.requests).toBeGreaterThan(150);
      expect(all?.failures).toBe(0);
      expect(result.setup.keys).toBe(200);
      expect(result.visibility.samples).toBeGreaterThan(0);
      expect(result.visibility.timeouts).toBe(0);
      expect(result.rss?.maxKiB).toBeGreaterThan(0);
      expect(result.thresholds.map((t) => t.status)).not.toContain('unsupported');
      expect(result.thresholds.find((t) => t.metric === 'http_req_failed{traffic:load}')?.status).toBe('pass');
    });

    it('should stop the reference profile after its request budget and time it', async () => {
      const result = await runner.run(smoke.reference, options());
      expect(result.budget?.requests).toBe(600);
      expect(result.operations.find((o) => o.op === 'put')?.requests).toBeGreaterThan(200);
      expect(result.budget?.elapsedMs).toBeGreaterThan(0);
      expect(result.thresholds.find((t) => t.metric === 'http_reqs{traffic:load}')).toMatchObject({
        status: 'pass',
        actual: 600,
      });
    });

    it('should measure the backlog drain after a write-only load', async () => {
      const result = await runner.run(smoke['sustained-writes'], options());
      expect(result.setup.keys).toBe(0);
      expect(result.backlogDrain).toMatchObject({ markers: 32, pending: 0 });
      expect(result.backlogDrain?.latency.maxMs).toBeLessThan(1000);
    });

    it('should fail setup with the reason when the target rejects the writes', async () => {
      await expect(runner.run(smoke['read-heavy'], { ...options(), target: { baseUrl } })).rejects.toThrow(
        new ScenarioSetupError('read-heavy', '200 of 200 writes rejected (status 401: 200)'),
      );
    });
  });
});
