import { describe, expect, it } from 'vitest';
import { testTopology } from '../stack.fixture';
import { parseClusterInfo, redisConfig, redisProcessName } from './redis.service';

describe(parseClusterInfo.name, () => {
  it('should parse CLUSTER INFO lines', () => {
    const info = parseClusterInfo('cluster_state:ok\r\ncluster_slots_ok:16384\r\ncluster_known_nodes:6\r\n');
    expect(info).toEqual({ cluster_state: 'ok', cluster_slots_ok: '16384', cluster_known_nodes: '6' });
  });
});

describe(redisConfig.name, () => {
  it('should run a cluster node in the foreground with its files under the stack', () => {
    const { topology, layout } = testTopology();
    const node = { host: '127.0.0.1', port: 17102 };
    expect(redisProcessName(node)).toBe('redis-17102');
    // The whole file, exactly.
    expect(redisConfig(node, topology, layout)).toMatchInlineSnapshot(`
      "port 17102
      bind 127.0.0.1
      dir /tmp/keyflow-test/data/redis-17102
      daemonize no
      logfile ""
      cluster-enabled yes
      cluster-config-file nodes.conf
      cluster-node-timeout 2000
      maxmemory 512mb
      maxmemory-policy noeviction
      appendonly yes
      appendfsync everysec
      save ""
      "
    `);
  });
});
