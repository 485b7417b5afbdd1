import { describe, expect, it } from 'vitest';
import { shardOf, shardQueueName } from './shard.util';

describe(shardOf.name, () => {
  it('should be stable for a key', () => {
    expect(shardOf('user:42', 16)).toBe(shardOf('user:42', 16));
    // FNV-1a of "a" is 0xe40c292c: a fixed value other languages can reproduce.
    expect(shardOf('a', 0x100000000 - 1)).toBe(0xe40c292c % (0x100000000 - 1));
  });

  it('should stay within the shard count', () => {
    for (let i = 0; i < 1000; i++) {
      const shard = shardOf(`key-${i}`, 16);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(16);
    }
  });

  it('should spread keys over every shard', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[shardOf(`key-${i}`, 16)] = (counts[shardOf(`key-${i}`, 16)] ?? 0) + 1;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});

describe(shardQueueName.name, () => {
  it('should name shard queues kv.shard.N', () => {
    expect(shardQueueName(7)).toBe('kv.shard.7');
  });
});
