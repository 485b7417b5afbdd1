import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_ENTRY, appEnv, appLaunchSpec, AppsService, CREATE_ADMIN_ENTRY, MIGRATE_ENTRY } from './apps.service';
import type { AppBuildService } from './build/app-build.service';
import { stackLayout } from './stack-layout.util';
import { ensureSecrets } from './secrets.util';
import { testSecrets, testTopology } from './stack.fixture';
import { renderSupervisorConf } from './supervisor/supervisor-conf.util';

describe(appEnv.name, () => {
  it("should give an instance its identity and every connection through HAProxy, with the apps' own logins", () => {
    const { topology } = testTopology();
    expect(appEnv(topology, { name: 'api-2', host: '127.0.0.1', port: 13002 }, testSecrets())).toEqual({
      NODE_ENV: 'production',
      KEYFLOW_INSTANCE: 'api-2',
      HOST: '127.0.0.1',
      PORT: '13002',
      AMQP_URL: 'amqp://keyflow:amqp-app-pw@127.0.0.1:15710/keyflow',
      REDIS_NODES: '127.0.0.1:17101,127.0.0.1:17102,127.0.0.1:17103,127.0.0.1:17104,127.0.0.1:17105,127.0.0.1:17106',
      REDIS_USERNAME: 'keyflow',
      REDIS_PASSWORD: 'redis-app-pw',
      DATABASE_URL: 'postgres://keyflow:pg-app-pw@127.0.0.1:16501/keyflow',
      DATABASE_READ_URL: 'postgres://keyflow:pg-app-pw@127.0.0.1:16502/keyflow',
      KV_SHARDS: '16',
    });
  });
});

describe(appLaunchSpec.name, () => {
  it('should run the compiled app entry from the repository root and log under the stack', () => {
    const { topology, layout } = testTopology();
    const instance = { name: 'worker-1', host: '127.0.0.1', port: 13101 };
    const spec = appLaunchSpec('worker', instance, topology, layout, testSecrets(), {
      PATH: '/usr/bin',
      NODE_ENV: 'development',
    });
    expect(spec).toMatchObject({
      name: 'worker-1',
      command: process.execPath,
      args: ['dist/apps/worker/apps/worker/src/main.js'],
      env: { PATH: '/usr/bin', NODE_ENV: 'production', KEYFLOW_INSTANCE: 'worker-1', PORT: '13101' },
      cwd: '/repo',
      logFile: '/tmp/keyflow-test/logs/worker-1.log',
      healthUrl: 'http://127.0.0.1:13101/health/ready',
    });
  });
});

describe('compiled entries', () => {
  it('should run every app step from the build output, never from a TypeScript source', () => {
    expect([APP_ENTRY.api, APP_ENTRY.worker, MIGRATE_ENTRY, CREATE_ADMIN_ENTRY]).toEqual([
      'dist/apps/api/apps/api/src/main.js',
      'dist/apps/worker/apps/worker/src/main.js',
      'dist/apps/worker/apps/worker/src/migrate.js',
      'dist/apps/api/apps/api/src/create-admin.js',
    ]);
  });
});

describe(AppsService.name, () => {
  describe('prepare', () => {
    it('should start the build and give supervisord plain `node <compiled entry>` programs, no TypeScript loader', () => {
      const { topology } = testTopology();
      const dir = mkdtempSync(join(tmpdir(), 'keyflow-apps-spec-'));
      try {
        const layout = stackLayout('/repo', join(process.cwd(), 'deploy/topologies/test.yaml'), dir);
        mkdirSync(layout.run);
        ensureSecrets(layout, topology);
        let started = 0;
        const build = { start: () => void started++ } as unknown as AppBuildService;
        const programs = new AppsService(layout, build).prepare({ topology, layout }).map((p) => p.spec);
        expect(started).toBe(1);
        expect(programs.map((p) => p.name)).toEqual([
          ...topology.api.instances.map((i) => i.name),
          ...topology.worker.instances.map((i) => i.name),
        ]);
        const conf = renderSupervisorConf(programs, layout, 'keyflow-test');
        const commands = conf.split('\n').filter((l) => l.startsWith('command='));
        expect(commands).toHaveLength(programs.length);
        for (const instance of topology.api.instances) {
          expect(conf).toContain(
            `[program:${instance.name}]\ncommand="${process.execPath}" "dist/apps/api/apps/api/src/main.js"\ndirectory=/repo\n`,
          );
        }
        for (const command of commands) {
          expect(command).not.toMatch(/swc|ts-node|tsx|typescript|"-r"|--require|--import|--loader|\.ts"/);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
