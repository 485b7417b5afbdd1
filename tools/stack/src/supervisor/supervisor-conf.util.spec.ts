import { describe, expect, it } from 'vitest';
import { testTopology } from '../stack.fixture';
import {
  parseSupervisorLog,
  parseSupervisorStatus,
  programName,
  quoteArg,
  renderSupervisorConf,
  type ProgramSpec,
} from './supervisor-conf.util';

const api: ProgramSpec = {
  name: 'api-1',
  group: 'apps',
  command: '/usr/bin/node',
  args: ['-r', '@swc-node/register', 'apps/api/src/main.ts'],
  env: { PORT: '13001', ODD: 'a "b" 100% c\\d' },
  cwd: '/repo',
  priority: 300,
  startSecs: 5,
  startRetries: 8,
  stopWaitSecs: 15,
};

describe(quoteArg.name, () => {
  it('should double-quote, escape quotes and backslashes, and double % for supervisord', () => {
    expect(quoteArg('a "b" 100% c\\d')).toBe('"a \\"b\\" 100%% c\\\\d"');
  });
});

describe(renderSupervisorConf.name, () => {
  it('should run each program in the foreground, not at supervisord start, restarted, signalled by group, logs rotated', () => {
    const { layout } = testTopology();
    const conf = renderSupervisorConf([api, { ...api, name: 'api-2' }], layout, 'keyflow-test');
    expect(conf).toContain('[unix_http_server]\nfile=/tmp/keyflow-test/run/supervisor.sock\nchmod=0700');
    expect(conf).toContain('pidfile=/tmp/keyflow-test/run/supervisord.pid');
    const section = conf.slice(conf.indexOf('[program:api-1]'), conf.indexOf('[program:api-2]'));
    expect(section.trim().split('\n')).toEqual([
      '[program:api-1]',
      'command="/usr/bin/node" "-r" "@swc-node/register" "apps/api/src/main.ts"',
      'directory=/repo',
      'environment=PORT="13001",ODD="a \\"b\\" 100%% c\\\\d"',
      'priority=300',
      'autostart=false',
      'autorestart=true',
      'startsecs=5',
      'startretries=8',
      'stopsignal=TERM',
      'stopwaitsecs=15',
      'stopasgroup=true',
      'killasgroup=true',
      'redirect_stderr=true',
      'stdout_logfile=/tmp/keyflow-test/logs/api-1.log',
      'stdout_logfile_maxbytes=20MB',
      'stdout_logfile_backups=3',
    ]);
    expect(conf).toContain('[group:apps]\nprograms=api-1,api-2\npriority=300');
    expect(programName(api)).toBe('apps:api-1');
  });

  it('should refuse an environment variable name supervisord cannot carry', () => {
    const { layout } = testTopology();
    expect(() => renderSupervisorConf([{ ...api, env: { 'A-B': 'x' } }], layout, 'x')).toThrow(/A-B/);
  });
});

describe(parseSupervisorStatus.name, () => {
  it('should read state and pid, naming single-program groups by group and program', () => {
    const out = [
      'apps:api-1                       RUNNING   pid 1234, uptime 0:00:05',
      'haproxy                          STOPPED   Dec 01 08:50 AM',
      'postgres:postgres-2              FATAL     Exited too quickly (process log may have details)',
      'redis:redis-17101                STARTING  ',
    ].join('\n');
    expect(parseSupervisorStatus(out)).toEqual([
      { program: 'apps:api-1', name: 'api-1', state: 'RUNNING', pid: 1234, description: 'pid 1234, uptime 0:00:05' },
      { program: 'haproxy:haproxy', name: 'haproxy', state: 'STOPPED', pid: 0, description: 'Dec 01 08:50 AM' },
      {
        program: 'postgres:postgres-2',
        name: 'postgres-2',
        state: 'FATAL',
        pid: 0,
        description: 'Exited too quickly (process log may have details)',
      },
      { program: 'redis:redis-17101', name: 'redis-17101', state: 'STARTING', pid: 0, description: '' },
    ]);
  });
});

describe(parseSupervisorLog.name, () => {
  it('should count exits since supervisord last started and keep the last cause', () => {
    const log = [
      '2026-12-01 08:00:00,000 INFO supervisord started with pid 10',
      "2026-12-01 08:00:01,000 INFO spawned: 'worker-1' with pid 11",
      '2026-12-01 08:00:09,000 WARN exited: worker-1 (terminated by SIGKILL; not expected)',
      '2026-12-01 08:01:00,000 INFO supervisord started with pid 20',
      "2026-12-01 08:01:01,000 INFO spawned: 'worker-1' with pid 21",
      '2026-12-01 08:01:09,000 WARN exited: worker-1 (terminated by SIGKILL; not expected)',
      "2026-12-01 08:01:10,000 INFO spawned: 'worker-1' with pid 22",
      '2026-12-01 08:01:19,000 WARN exited: worker-1 (exit status 1; not expected)',
      '2026-12-01 08:01:20,000 INFO stopped: api-1 (exit status 0)',
      '2026-12-01 08:01:21,000 INFO gave up: postgres-2 entered FATAL state, too many start retries too quickly',
    ].join('\n');
    const history = parseSupervisorLog(log);
    expect(history.get('worker-1')).toEqual({ restarts: 2, lastExit: 'exit status 1; not expected' });
    expect(history.get('api-1')).toEqual({ restarts: 0, lastExit: 'stopped exit status 0' });
    expect(history.get('postgres-2')).toEqual({
      restarts: 0,
      lastExit: 'gave up: entered FATAL state, too many start retries too quickly',
    });
  });
});
