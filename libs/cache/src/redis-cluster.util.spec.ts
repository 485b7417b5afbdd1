import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { pollUntil } from '@keyflow/testing';
import { createRedisCluster } from './redis-cluster.util';
import { watchProcessErrors } from '@keyflow/testing';

describe(createRedisCluster.name, () => {
  let cluster: Cluster | undefined;
  let watch: ReturnType<typeof watchProcessErrors> | undefined;

  afterEach(() => {
    cluster?.disconnect();
    watch?.stop();
  });

  // Port 1 on the loopback: nothing listens there, so every connection attempt is refused at once.
  it('should log, not throw, the errors of a cluster it cannot reach, and reject its commands', async () => {
    watch = watchProcessErrors();
    const lines: string[] = [];
    cluster = createRedisCluster({ nodes: ['127.0.0.1:1'], logger: { warn: (m) => lines.push(m) } });

    await expect(cluster.get('k')).rejects.toThrow();
    await pollUntil(
      () => Promise.resolve(lines),
      (l) => l.some((m) => m.startsWith('redis: ')) && l.some((m) => m.startsWith('redis node 127.0.0.1:1: ')),
      { what: 'cluster and node errors to be logged', timeoutMs: 5_000, intervalMs: 10 },
    );

    expect(watch.errors).toEqual([]);
  });

  it('should log a node that keeps failing once per interval, not on every reconnect attempt', () => {
    const lines: string[] = [];
    cluster = createRedisCluster({ nodes: ['127.0.0.1:1'], logger: { warn: (m) => lines.push(m) } });
    lines.length = 0;

    for (let i = 0; i < 5; i++)
      cluster.emit('node error', new Error('connect ECONNREFUSED 10.0.0.7:7001'), '10.0.0.7:7001');
    cluster.emit('node error', new Error('connect ECONNREFUSED 10.0.0.8:7002'), '10.0.0.8:7002');

    expect(lines.filter((l) => l.includes('10.0.0.'))).toEqual([
      'redis node 10.0.0.7:7001: connect ECONNREFUSED 10.0.0.7:7001',
      'redis node 10.0.0.8:7002: connect ECONNREFUSED 10.0.0.8:7002',
    ]);
  });
});
