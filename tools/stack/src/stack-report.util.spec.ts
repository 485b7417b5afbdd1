import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildStackInfo } from './stack-file.util';
import { testSecrets, testTopology } from './stack.fixture';
import {
  expectedCommandLine,
  expectedEnvironment,
  formatStatusTable,
  resetCommand,
  formatUrls,
  stopCommand,
  topologyPorts,
} from './stack-report.util';

describe(topologyPorts.name, () => {
  it('should claim every listening port once, cluster buses and epmd included', () => {
    const ports = topologyPorts(testTopology().topology);
    expect(ports).toContainEqual({ what: 'redis 17101 cluster bus', host: '127.0.0.1', port: 27101 });
    expect(ports).toContainEqual({ what: 'epmd', host: '127.0.0.1', port: 4371 });
    expect(ports).toContainEqual({ what: 'rabbitmq rmq2 distribution', host: '127.0.0.1', port: 25802 });
    expect(ports).toContainEqual({ what: 'gateway-2 plain HTTP', host: '127.0.0.32', port: 18080 });
    expect(ports).toContainEqual({ what: 'rabbitmq rmq3 prometheus', host: '127.0.0.1', port: 15893 });
    // gateways (HTTPS + plain), apis, workers, redis + buses, epmd, rabbitmq, postgres + patroni, etcd, haproxy, named,
    // prometheus, alertmanager, redis/postgres/node exporters, rabbitmq_prometheus
    expect(ports).toHaveLength(6 + 2 + 2 + 12 + 1 + 9 + 6 + 2 + 4 + 1 + 5 + 3);
    expect(new Set(ports.map((p) => `${p.host}:${p.port}`)).size).toBe(ports.length);
  });
});

describe(expectedCommandLine.name, () => {
  it('should identify each kind of process by what its command line shows', () => {
    expect(expectedCommandLine({ name: 'api-1', pid: 1, kind: 'api' })).toBe('apps/api/src/main.');
    expect('/usr/bin/node dist/apps/api/apps/api/src/main.js').toContain(
      expectedCommandLine({ name: 'api-1', pid: 1, kind: 'api' }),
    );
    expect(expectedCommandLine({ name: 'redis-7001', pid: 1, kind: 'redis', host: '127.0.0.1', port: 7001 })).toBe(
      'redis-server 127.0.0.1:7001',
    );
    expect(expectedCommandLine({ name: 'postgres-primary', pid: 1, kind: 'postgres', dataDir: '/s/data/pg' })).toBe(
      '/s/data/pg',
    );
  });

  it('should identify a RabbitMQ node by its environment, which names the node', () => {
    const proc = { name: 'rabbitmq-rmq1', pid: 1, kind: 'rabbitmq' as const, node: 'rmq1@localhost', port: 5701 };
    expect(expectedCommandLine(proc)).toBe('beam.smp');
    expect(expectedEnvironment(proc)).toEqual(['RABBITMQ_NODENAME=rmq1@localhost', 'RABBITMQ_NODE_PORT=5701']);
  });
});

describe(resetCommand.name, () => {
  it('should say npm run reset for the default topology and the full command otherwise', () => {
    expect(resetCommand('/repo/deploy/topologies/local.yaml', '/repo')).toBe('npm run reset');
    expect(resetCommand('/repo/deploy/topologies/test.yaml', '/repo')).toBe(
      'node tools/stack/bin/keyflow-stack.mjs reset --topology deploy/topologies/test.yaml',
    );
  });
});

describe(stopCommand.name, () => {
  it('should say npm stop for the default topology and the full command otherwise', () => {
    expect(stopCommand('/repo/deploy/topologies/local.yaml', '/repo')).toBe('npm stop');
    expect(stopCommand('/repo/deploy/topologies/test.yaml', '/repo')).toBe(
      'node tools/stack/bin/keyflow-stack.mjs down --topology deploy/topologies/test.yaml',
    );
  });
});

describe(formatUrls.name, () => {
  it('should list the gateway, its docs and the operator consoles', () => {
    const { topology, layout } = testTopology();
    const secrets = testSecrets();
    const info = buildStackInfo(topology, layout, new Date(), '/tmp/keyflow-test/conf/supervisord.conf', secrets);
    const lines = formatUrls(info);
    expect(lines.slice(0, 9)).toEqual([
      '  Gateways:            http://127.0.0.31:18080, http://127.0.0.32:18080, http://127.0.0.33:18080',
      '  Gateways (HTTPS):    https://127.0.0.31:18443, https://127.0.0.32:18443, https://127.0.0.33:18443',
      '  CA certificate:      /tmp/keyflow-test/conf/ca.crt  (curl --cacert …, NODE_EXTRA_CA_CERTS=…)',
      '  DNS round robin:     api.keyflow.test @ 127.0.0.1:18053  (dig @127.0.0.1 -p 18053 api.keyflow.test)',
      '  Load balancer (VIP): https://198.18.78.10:18443 = www.keyflow.test  (HAProxy pair lb-1 + lb-2, keepalived; curl --cacert …)',
      '  Admin token:         -',
      '  Web console:         http://127.0.0.31:18080/',
      '  Swagger UI:          http://127.0.0.31:18080/docs',
      '  OpenAPI:             http://127.0.0.31:18080/docs/json',
    ]);
    expect(lines.at(-1)).toBe(`  Logs:                ${join('/tmp/keyflow-test', 'logs')}`);
  });

  it('should say where the passwords are and print none of them', () => {
    const { topology, layout } = testTopology();
    const secrets = testSecrets();
    const text = formatUrls(
      buildStackInfo(topology, layout, new Date(), '/tmp/keyflow-test/conf/supervisord.conf', secrets),
    ).join('\n');
    expect(text).toContain('/tmp/keyflow-test/secrets.json');
    expect(text).toContain('postgres://keyflow:***@127.0.0.1:16501/keyflow');
    const passwords = JSON.stringify(secrets).match(/"password":"([^"]+)"/g) ?? [];
    expect(passwords.length).toBeGreaterThan(5);
    for (const entry of passwords) expect(text).not.toContain(entry.split('"')[3]);
  });
});

describe(formatStatusTable.name, () => {
  it('should align the columns and shout what is wrong', () => {
    expect(
      formatStatusTable([
        {
          name: 'api-1',
          pid: 123,
          state: 'RUNNING',
          alive: true,
          healthy: true,
          restarts: 2,
          lastExit: 'terminated by SIGKILL; not expected',
          detail: 'GET /health/ready → 200',
        },
        {
          name: 'postgres-2',
          pid: 0,
          state: 'FATAL',
          alive: false,
          healthy: false,
          restarts: 5,
          lastExit: 'gave up: entered FATAL state, too many start retries too quickly',
          detail: 'FATAL: Exited too quickly',
        },
      ]),
    ).toEqual([
      'NAME        PID  STATE    ALIVE  HEALTH  RESTARTS  LAST EXIT                                                         DETAIL',
      'api-1       123  RUNNING  yes    ok      2         terminated by SIGKILL; not expected                               GET /health/ready → 200',
      'postgres-2  0    FATAL    NO     FAIL    5         gave up: entered FATAL state, too many start retries too quickly  FATAL: Exited too quickly',
    ]);
  });
});
