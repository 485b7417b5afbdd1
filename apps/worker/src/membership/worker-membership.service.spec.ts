import { describe, expect, it } from 'vitest';
import { homeShards, memberName, newestPerName } from './worker-membership.service';

describe(newestPerName.name, () => {
  it('should keep the newest incarnation of each worker, sorted by name', () => {
    expect(
      newestPerName([
        ['worker-2@old', 100],
        ['worker-1@a', 150],
        ['worker-2@new', 160],
      ]),
    ).toEqual(['worker-1@a', 'worker-2@new']);
  });

  it('should see a restarted worker as a different member list', () => {
    const before = newestPerName([
      ['worker-1@a', 1],
      ['worker-2@old', 1],
    ]);
    const after = newestPerName([
      ['worker-1@a', 2],
      ['worker-2@old', 1],
      ['worker-2@new', 2],
    ]);
    expect(after).not.toEqual(before);
    expect(after.map(memberName)).toEqual(before.map(memberName));
  });
});

describe(memberName.name, () => {
  it('should strip the incarnation, and keep a bare name', () => {
    expect(memberName('worker-1@3f9c1a2b')).toBe('worker-1');
    expect(memberName('worker-1')).toBe('worker-1');
  });
});

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
