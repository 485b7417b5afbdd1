import { describe, expect, it } from 'vitest';
import { testSecrets, testTopology } from '../stack.fixture';
import { rabbitmqConfig, rabbitmqEnv, rabbitmqNodeName } from './rabbitmq.service';

const rmq2 = {
  name: 'rmq2',
  host: '127.0.0.1',
  port: 15712,
  managementPort: 15802,
  distPort: 25802,
  prometheusPort: 15892,
};

describe(rabbitmqConfig.name, () => {
  it('should listen on loopback, discover its peers from the fixed node list and spread queue leaders', () => {
    // The whole file, exactly.
    expect(rabbitmqConfig(rmq2, testTopology().topology, testSecrets().rabbitmq)).toMatchInlineSnapshot(`
      "listeners.tcp.1 = 127.0.0.1:15712
      default_user = keyflow-admin
      default_pass = amqp-admin-pw
      default_user_tags.administrator = true
      management.tcp.ip = 127.0.0.1
      management.tcp.port = 15802
      prometheus.tcp.ip = 127.0.0.1
      prometheus.tcp.port = 15892
      cluster_formation.peer_discovery_backend = classic_config
      cluster_formation.classic_config.nodes.1 = rmq1@localhost
      cluster_formation.classic_config.nodes.2 = rmq2@localhost
      cluster_formation.classic_config.nodes.3 = rmq3@localhost
      queue_leader_locator = balanced
      log.console = false
      log.file.level = info
      log.file.rotation.size = 10485760
      log.file.rotation.count = 5
      "
    `);
  });
});

describe(rabbitmqEnv.name, () => {
  it('should give every node the shared HOME, the private epmd and explicit distribution ports', () => {
    const { topology, layout } = testTopology();
    expect(rabbitmqNodeName(rmq2)).toBe('rmq2@localhost');
    expect(rabbitmqEnv(rmq2, topology, layout)).toMatchObject({
      HOME: '/tmp/keyflow-test/data/rabbitmq',
      ERL_EPMD_PORT: '4371',
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_NODENAME: 'rmq2@localhost',
      RABBITMQ_NODE_PORT: '15712',
      RABBITMQ_DIST_PORT: '25802',
      RABBITMQ_CTL_DIST_PORT_MIN: '35802',
      RABBITMQ_CTL_DIST_PORT_MAX: '35812',
      RABBITMQ_CONFIG_FILE: '/tmp/keyflow-test/conf/rabbitmq-rmq2.conf',
      RABBITMQ_CONF_ENV_FILE: '/tmp/keyflow-test/conf/rabbitmq-env.conf',
      RABBITMQ_PID_FILE: '/tmp/keyflow-test/run/rabbitmq-rmq2.pid',
    });
  });
});
