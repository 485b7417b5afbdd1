import { describe, expect, it } from 'vitest';
import { defineScenarios } from '../../../scenarios/scenarios';
import { shardOf } from '@keyflow/contracts';
import { drainMarkerKeys, storePutScenario, sustainedWritesAt1000, targetRunMs } from './target-scenarios.util';
import { combineDrain } from './targets.service';

describe(storePutScenario.name, () => {
  it('should be PUT /store only, 64 VUs back to back, random keys, as long as the wrk run', () => {
    const scenario = storePutScenario(defineScenarios(0.5), 0.5);
    expect(scenario).toMatchObject({
      api: 'store',
      mix: { get: 0, put: 100, delete: 0 },
      executor: { executor: 'constant-vus', vus: 64, duration: '10s' },
      keySpace: 1_000_000,
      valueSize: 128,
      requestBudget: undefined,
    });
    expect(targetRunMs(0.5)).toBe(10_000);
    expect(targetRunMs(0.01)).toBe(5000);
  });
});

describe(sustainedWritesAt1000.name, () => {
  it("should run sustained-writes at 1,000/s for 60 s × scale with the issue's thresholds", () => {
    const scenario = sustainedWritesAt1000(defineScenarios(1), 1);
    expect(scenario.executor).toMatchObject({ executor: 'constant-arrival-rate', rate: 1000, duration: '60s' });
    expect(scenario.thresholds).toMatchObject({ write_visibility: ['p(99)<=250'], write_backlog_drain: ['max<=1000'] });
    expect(scenario.writeVisibility.sampleRate).toBeGreaterThan(0);
    expect(sustainedWritesAt1000(defineScenarios(0.1), 0.1).executor).toMatchObject({ duration: '6s' });
  });
});

describe(combineDrain.name, () => {
  const queues = (drainedAfterMs: number | null) => ({
    queues: { initialMessages: 10, drainedAfterMs, lastMessages: drainedAfterMs === null ? 3 : 0, samples: 2 },
    queuesError: null,
  });

  it('should be when the last marker read back, once the queues confirmed empty; null when either never did', () => {
    expect(combineDrain(120, 0, queues(800))).toBe(120);
    expect(combineDrain(1500, 0, queues(0))).toBe(1500);
    expect(combineDrain(120, 0, { queues: null, queuesError: 'no management API in stack.json' })).toBe(120);
    expect(combineDrain(120, 2, queues(0))).toBeNull();
    expect(combineDrain(120, 0, queues(null))).toBeNull();
  });
});

describe(drainMarkerKeys.name, () => {
  it('should put at least one marker on every shard queue when it knows how many there are', () => {
    const keys = drainMarkerKeys('lt-x', 16, 4);
    expect(keys.length).toBeGreaterThanOrEqual(16);
    expect(new Set(keys.map((k) => shardOf(k, 16))).size).toBe(16);
    expect(keys[0]).toBe('lt-x-drain-0');
    expect(drainMarkerKeys('lt-x', undefined, 5)).toHaveLength(5);
    expect(drainMarkerKeys('lt-x', 1, 5)).toHaveLength(5);
  });
});
