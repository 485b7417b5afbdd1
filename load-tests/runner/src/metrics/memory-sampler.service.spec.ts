import { describe, expect, it } from 'vitest';
import { MemorySampler, memoryThreshold, parseUsedMemory, type MemoryProbe } from './memory-sampler.service';

/** A probe that answers the next scripted value on each read (undefined: cannot be read now). */
function scripted(name: string, values: Array<number | undefined>, kind: MemoryProbe['kind'] = 'redis') {
  let i = 0;
  return { name, kind, read: () => Promise.resolve(values[i++]) } satisfies MemoryProbe;
}

/** Drives the sampler through `reads` samples at 1 s apart, with a clock of its own. */
async function run(probes: MemoryProbe[], reads: number) {
  let now = 0;
  const sampler = new MemorySampler(probes, { intervalMs: 60_000, maxGrowthRatio: 0.05 }, () => now);
  await sampler.start();
  for (let i = 1; i < reads - 1; i++) {
    now += 1_000;
    await sampler.sampleOnce();
  }
  now += 1_000;
  return sampler.stop();
}

describe(MemorySampler.name, () => {
  it('should compare the second half of the run with its middle, after caches filled in the first', async () => {
    const report = await run(
      [
        scripted('redis 127.0.0.1:7001', [10, 50, 100, 100, 101, 102]),
        scripted('api-1 (42)', [100, 200, 250, 300, 345, 390], 'process'),
      ],
      6,
    );
    expect(report.series).toEqual([
      {
        name: 'redis 127.0.0.1:7001',
        kind: 'redis',
        samples: 6,
        firstBytes: 10,
        halfBytes: 100,
        lastBytes: 102,
        maxBytes: 102,
        growthRatio: 0.02,
      },
      {
        name: 'api-1 (42)',
        kind: 'process',
        samples: 6,
        firstBytes: 100,
        halfBytes: 300,
        lastBytes: 390,
        maxBytes: 390,
        growthRatio: 0.3,
      },
    ]);
    expect(memoryThreshold(report)).toEqual({
      metric: 'memory',
      expression: 'growth<=5% over the second half',
      status: 'fail',
      actual: 0.3,
      note: '2 series; most growth: api-1 (42)',
    });
  });

  it('should skip samples that cannot be read (a replica, a node failing over) and pass when memory is flat', async () => {
    const report = await run([scripted('redis 127.0.0.1:7004', [undefined, 80, 100, 100, 99, 100])], 6);
    expect(report.series[0]).toMatchObject({ samples: 5, firstBytes: 80, growthRatio: 0 });
    expect(memoryThreshold(report).status).toBe('pass');
  });

  it('should report no data for a probe that never answered', async () => {
    const report = await run([scripted('redis 127.0.0.1:7005', [])], 4);
    expect(memoryThreshold(report)).toMatchObject({ status: 'no-data' });
  });
});

describe(parseUsedMemory.name, () => {
  it('should read used_memory from INFO memory', () => {
    expect(parseUsedMemory('# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n')).toBe(1_048_576);
    expect(parseUsedMemory('# Memory\r\n')).toBeUndefined();
  });
});
