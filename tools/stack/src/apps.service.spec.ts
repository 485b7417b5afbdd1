import { describe, expect, it } from 'vitest';
import { appEnv, appLaunchSpec } from './apps.service';
import { testTopology } from './stack.fixture';

describe(appEnv.name, () => {
  it('should give an instance its identity and every connection through HAProxy', () => {
    const { topology } = testTopology();
    expect(appEnv(topology, { name: 'api-2', host: '127.0.0.1', port: 13002 })).toEqual({
      NODE_ENV: 'production',
      KEYFLOW_INSTANCE: 'api-2',
      HOST: '127.0.0.1',
      PORT: '13002',
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:15710',
      REDIS_NODES: '127.0.0.1:17101,127.0.0.1:17102,127.0.0.1:17103,127.0.0.1:17104,127.0.0.1:17105,127.0.0.1:17106',
      DATABASE_URL: 'postgres://keyflow@127.0.0.1:16501/keyflow',
      DATABASE_READ_URL: 'postgres://keyflow@127.0.0.1:16502/keyflow',
      KV_SHARDS: '16',
    });
  });
});

describe(appLaunchSpec.name, () => {
  it('should run the app entry with swc from the repository root and log under the stack', () => {
    const { topology, layout } = testTopology();
    const spec = appLaunchSpec('worker', { name: 'worker-1', host: '127.0.0.1', port: 13101 }, topology, layout, {
      PATH: '/usr/bin',
      NODE_ENV: 'development',
    });
    expect(spec).toMatchObject({
      name: 'worker-1',
      command: process.execPath,
      args: ['-r', '@swc-node/register', 'apps/worker/src/main.ts'],
      env: { PATH: '/usr/bin', NODE_ENV: 'production', KEYFLOW_INSTANCE: 'worker-1', PORT: '13101' },
      cwd: '/repo',
      logFile: '/tmp/keyflow-test/logs/worker-1.log',
      healthUrl: 'http://127.0.0.1:13101/health/ready',
    });
  });
});
