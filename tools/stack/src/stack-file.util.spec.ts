import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadTopology } from '@keyflow/topology';
import { buildStackInfo, gatewayUrls, inheritedEnv, readStackFile, StackRecord } from './stack-file.util';
import { testSecrets, testTopology } from './stack.fixture';

describe(buildStackInfo.name, () => {
  it('should describe every URL of the test topology before any process runs', () => {
    const { topology, layout } = testTopology();
    expect(
      buildStackInfo(
        topology,
        layout,
        new Date('2030-01-02T03:04:05Z'),
        '/tmp/keyflow-test/conf/supervisord.conf',
        testSecrets(),
      ),
    ).toEqual({
      state: 'starting',
      name: 'test',
      topology: join(process.cwd(), 'deploy/topologies/test.yaml'),
      stackDir: '/tmp/keyflow-test',
      startedAt: '2030-01-02T03:04:05.000Z',
      gateway: 'http://127.0.0.31:18080',
      gateways: ['http://127.0.0.31:18080', 'http://127.0.0.32:18080', 'http://127.0.0.33:18080'],
      httpsGateways: ['https://127.0.0.31:18443', 'https://127.0.0.32:18443', 'https://127.0.0.33:18443'],
      ca: '/tmp/keyflow-test/conf/ca.crt',
      apis: ['http://127.0.0.1:13001', 'http://127.0.0.1:13002'],
      workers: ['http://127.0.0.1:13101', 'http://127.0.0.1:13102'],
      management: 'http://127.0.0.1:15801',
      managementUser: 'keyflow-admin',
      managementPassword: 'amqp-admin-pw',
      amqp: [15711, 15712, 15713].map((p) => `amqp://keyflow:amqp-app-pw@127.0.0.1:${p}/keyflow`),
      amqpGateway: 'amqp://keyflow:amqp-app-pw@127.0.0.1:15710/keyflow',
      amqpVhost: 'keyflow',
      redis: [17101, 17102, 17103, 17104, 17105, 17106].map((p) => `127.0.0.1:${p}`),
      db: {
        primary: 'postgres://keyflow:pg-app-pw@127.0.0.1:16501/keyflow',
        replica: 'postgres://keyflow:pg-app-pw@127.0.0.1:16502/keyflow',
        replicas: [15501, 15502, 15503].map((p) => `postgres://keyflow:pg-app-pw@127.0.0.1:${p}/keyflow`),
        write: 'postgres://keyflow:pg-app-pw@127.0.0.1:16501/keyflow',
        read: 'postgres://keyflow:pg-app-pw@127.0.0.1:16502/keyflow',
      },
      haproxyStats: 'http://127.0.0.1:18404/stats',
      secretsFile: '/tmp/keyflow-test/secrets.json',
      credentials: {
        redis: {
          app: { username: 'keyflow', password: 'redis-app-pw' },
          admin: { username: 'keyflow-admin', password: 'redis-admin-pw' },
        },
        dbSuperuser: { username: 'postgres', password: 'pg-super-pw' },
        patroni: { username: 'patroni', password: 'patroni-pw' },
        haproxyStats: { username: 'admin', password: 'stats-pw' },
      },
      dns: { server: '127.0.0.1:18053', name: 'api.keyflow.test' },
      loadBalancer: 'https://198.18.78.10:18443',
      edge: {
        virtualIp: '198.18.78.10',
        name: 'www.keyflow.test',
        http: 'http://198.18.78.10:18080',
        peers: [
          {
            name: 'lb-1',
            namespace: 'kft-lb-1',
            address: '198.18.78.11',
            priority: 150,
            stats: 'http://198.18.78.11:18405/stats',
          },
          {
            name: 'lb-2',
            namespace: 'kft-lb-2',
            address: '198.18.78.12',
            priority: 100,
            stats: 'http://198.18.78.12:18405/stats',
          },
        ],
      },
      prometheus: 'http://127.0.0.1:19090',
      alertmanager: 'http://127.0.0.1:19093',
      supervisor: { config: '/tmp/keyflow-test/conf/supervisord.conf' },
      patroni: ['http://127.0.0.1:18008', 'http://127.0.0.1:18009', 'http://127.0.0.1:18010'],
      processes: [],
    });
  });
});

describe(gatewayUrls.name, () => {
  it('should give the HTTPS URLs as the gateways when plain HTTP only redirects (the local stack)', () => {
    const local = loadTopology(join(process.cwd(), 'deploy/topologies/local.yaml'));
    const https = ['https://127.0.0.21:8443', 'https://127.0.0.22:8443', 'https://127.0.0.23:8443'];
    expect(gatewayUrls(local)).toEqual({ gateways: https, https });
  });
});

describe(StackRecord.name, () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('should rewrite stack.json atomically, mode 0600, with every process added, replacing one of the same name', () => {
    dir = mkdtempSync(join(tmpdir(), 'stack-record-'));
    const file = join(dir, 'stack.json');
    const { topology, layout } = testTopology();
    const record = new StackRecord(
      buildStackInfo(topology, layout, new Date(), '/tmp/keyflow-test/conf/supervisord.conf', testSecrets()),
      file,
    );

    record.addProcess({ name: 'api-1', pid: 10, kind: 'api' });
    record.addProcess({ name: 'redis-17101', pid: 11, kind: 'redis' });
    record.addProcess({ name: 'api-1', pid: 12, kind: 'api' });
    record.setState('up');
    record.setToken('kf_secret');

    expect(readStackFile(file)).toMatchObject({
      state: 'up',
      processes: [
        { name: 'redis-17101', pid: 11 },
        { name: 'api-1', pid: 12 },
      ],
    });
    expect(readFileSync(file, 'utf8')).toMatch(/^{\n {2}"state": "up",/);
    expect(readdirSync(dir)).toEqual(['stack.json']);
    // It holds the admin token: readable by its owner only.
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readStackFile(file)?.token).toBe('kf_secret');
  });

  it('should read no stack where there is no file', () => {
    expect(readStackFile('/nonexistent/stack.json')).toBeUndefined();
  });
});

describe(inheritedEnv.name, () => {
  it('should pass on the basics only, with a UTF-8 locale by default', () => {
    expect(inheritedEnv({ PATH: '/bin', HOME: '/root', DATABASE_URL: 'postgres://elsewhere', VITEST: 'true' })).toEqual(
      {
        PATH: '/bin',
        HOME: '/root',
        LANG: 'C.UTF-8',
      },
    );
  });
});
