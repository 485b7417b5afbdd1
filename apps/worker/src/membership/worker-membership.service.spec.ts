import { describe, expect, it } from 'vitest';
import { homeShards } from './worker-membership.service';

describe(homeShards.name, () => {
  it('should give a lone worker every shard', () => {
    expect([...homeShards('worker-1', ['worker-1'], 4)]).toEqual([0, 1, 2, 3]);
  });

  it('should split shards evenly and without overlap', () => {
    const members = ['worker-1', 'worker-2', 'worker-3'];
    const sets = members.map((m) => [...homeShards(m, members, 16)]);
    expect(sets.map((s) => s.length)).toEqual([6, 5, 5]);
    expect(new Set(sets.flat()).size).toBe(16);
  });

  it('should treat an unknown self as the first member rather than owning nothing', () => {
    expect([...homeShards('worker-9', ['worker-1', 'worker-2'], 4)]).toEqual([0, 2]);
  });
});
