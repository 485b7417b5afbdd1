import { describe, expect, it } from 'vitest';
import {
  defineScenarios,
  executorDurationMs,
  executorMaxVus,
  formatDuration,
  isScenarioName,
  parseDurationMs,
  SCENARIO_NAMES,
} from './scenario-definitions';

describe('scenario-definitions', () => {
  describe(parseDurationMs.name, () => {
    it('should parse k6 durations', () => {
      expect(parseDurationMs('60s')).toBe(60_000);
      expect(parseDurationMs('1m30s')).toBe(90_000);
      expect(parseDurationMs('250ms')).toBe(250);
      expect(parseDurationMs('1.5s')).toBe(1500);
      expect(parseDurationMs('2h')).toBe(7_200_000);
    });

    it('should reject anything else', () => {
      for (const bad of ['', '60', 's', '1m 30s', '10x']) expect(() => parseDurationMs(bad)).toThrow(/not a duration/);
    });
  });

  describe(formatDuration.name, () => {
    it('should round-trip through parseDurationMs', () => {
      for (const ms of [1000, 1500, 60_000, 600_000]) expect(parseDurationMs(formatDuration(ms))).toBe(ms);
    });
  });

  describe(defineScenarios.name, () => {
    it('should match the published reference profile at scale 1', () => {
      const { reference } = defineScenarios(1);
      expect(reference.executor).toMatchObject({ executor: 'ramping-vus', startVUs: 0 });
      expect(reference.executor.executor === 'ramping-vus' && reference.executor.stages[0]).toEqual({
        duration: '30s',
        target: 300,
      });
      expect(reference.requestBudget).toBe(60_000);
      expect(reference.mix).toEqual({ get: 50, put: 50, delete: 0 });
      expect(reference.thresholds).toMatchObject({
        'http_req_failed{traffic:load}': ['rate==0'],
        'http_req_duration{op:put}': ['p(99)<=50'],
        request_budget_elapsed: ['max<=20000'],
      });
    });

    it('should shorten every scenario and its budgets with the scale', () => {
      const full = defineScenarios(1);
      const smoke = defineScenarios(0.1);
      for (const name of SCENARIO_NAMES) {
        expect(executorDurationMs(smoke[name].executor)).toBeLessThanOrEqual(executorDurationMs(full[name].executor));
        expect(executorMaxVus(smoke[name].executor)).toBe(executorMaxVus(full[name].executor));
      }
      expect(executorDurationMs(full.soak.executor)).toBe(600_000);
      expect(executorDurationMs(smoke.soak.executor)).toBe(60_000);
      expect(smoke.reference.requestBudget).toBe(6000);
      expect(smoke.reference.thresholds.request_budget_elapsed).toEqual(['max<=2000']);
    });

    it('should define memory-soak as a 30-minute sustained-write run over a bounded key space, outside "all"', () => {
      const full = defineScenarios(1)['memory-soak'];
      expect(executorDurationMs(full.executor)).toBe(1_800_000);
      expect(full.mix).toEqual({ get: 0, put: 100, delete: 0 });
      expect(full.writeVisibility.sampleRate).toBe(0);
      expect(full.memory).toEqual({ sampleIntervalMs: 10_000, maxGrowthRatio: 0.05 });
      expect(SCENARIO_NAMES).not.toContain('memory-soak');
      expect(isScenarioName('memory-soak')).toBe(true);
      expect(executorDurationMs(defineScenarios(0.01)['memory-soak'].executor)).toBe(18_000);
    });

    it('should refuse a scale that is not positive', () => {
      expect(() => defineScenarios(0)).toThrow(/scale/);
    });
  });
});
