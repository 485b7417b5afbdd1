import { describe, expect, it } from 'vitest';
import { testSecrets, testTopology } from '../stack.fixture';
import { parseClusterInfo, redisAclUsers, redisConfig, redisProcessName } from './redis.service';

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
    expect(redisConfig(node, topology, layout, testSecrets().redis)).toMatchInlineSnapshot(`
      "user default off resetkeys resetchannels -@all
      user keyflow-admin on #430cb46b316ac01fe8dce9eb671fa3cd8ca57eed1275e0c004bfa9d3ab53a617 ~* &* +@all
      user keyflow-replica on #da41288eecf15e78b4c7138aade45e97fed366d314eb1a7dff29a797789cbb49 resetkeys resetchannels -@all +psync +replconf +ping
      user keyflow on #d80e69145b62810fd8506be3ea03ef13f52286e0318b18b5a41e39a95660755b resetkeys ~kv:* ~op:* ~idem:* ~token:* ~session:* ~login:* ~keyflow:* resetchannels &token:revoked -@all +ping +auth +hello +client|setname +client|getname +quit +readonly +readwrite +cluster|slots +cluster|info +info +get +set +getex +del +unlink +exists +expire +pexpire +ttl +pttl +incr +decr +mget +hget +hset +hgetall +hdel +sadd +srem +smembers +zadd +zrem +zrangebyscore +zremrangebyscore +zrange +zcard +evalsha +eval +script|load +script|exists +wait +role +publish +subscribe +unsubscribe
      masteruser keyflow-replica
      masterauth redis-replica-pw
      port 17102
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

describe(redisAclUsers.name, () => {
  const users = redisAclUsers(testSecrets().redis);
  const rules = (name: string): string[] => users.find((u) => u.startsWith(`user ${name} `))?.split(' ') ?? [];

  it('should turn the default user off, so a client that does not log in can do nothing', () => {
    expect(users[0]).toBe('user default off resetkeys resetchannels -@all');
  });

  it("should keep the apps' user to keyflow's key patterns and commands: no server commands, no other keys", () => {
    const app = rules('keyflow');
    expect(app).toContain('on');
    expect(app.filter((r) => r.startsWith('~'))).toEqual(
      ['kv:*', 'op:*', 'idem:*', 'token:*', 'session:*', 'login:*', 'keyflow:*'].map((p) => `~${p}`),
    );
    expect(app.filter((r) => r.startsWith('&'))).toEqual(['&token:revoked']);
    expect(app.indexOf('-@all')).toBeLessThan(app.indexOf('+get'));
    for (const forbidden of ['+@all', '+config', '+flushall', '+keys', '+debug', '+shutdown', '+acl', '+scan']) {
      expect(app).not.toContain(forbidden);
    }
  });

  it('should give passwords only as SHA-256 hashes', () => {
    const text = users.join('\n');
    for (const password of ['redis-app-pw', 'redis-admin-pw', 'redis-replica-pw']) expect(text).not.toContain(password);
    expect(rules('keyflow-replica')).toEqual(expect.arrayContaining(['-@all', '+psync', '+replconf', '+ping']));
  });
});
