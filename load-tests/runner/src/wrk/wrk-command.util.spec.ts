import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildWrkCommand,
  WRK_PROFILES,
  WRK_SCRIPT_DIR,
  wrkScriptFor,
  WrkSpecError,
  type WrkRunSpec,
} from './wrk-command.util';

const base: WrkRunSpec = {
  profile: 'health-live',
  target: 'http://127.0.0.21:8080',
  connections: 64,
  threads: 2,
  durationS: 20,
  timeoutS: 10,
};

describe(buildWrkCommand.name, () => {
  it('should pick each profile its own script, and every script should be checked in', () => {
    expect(WRK_PROFILES.map((p) => wrkScriptFor(p, '/s'))).toEqual([
      '/s/health-live.lua',
      '/s/kv-get.lua',
      '/s/store-put.lua',
    ]);
    for (const profile of WRK_PROFILES) expect(existsSync(wrkScriptFor(profile, WRK_SCRIPT_DIR))).toBe(true);
    expect(existsSync(join(WRK_SCRIPT_DIR, 'lib', 'common.lua'))).toBe(true);
  });

  it('should bound the run: threads, connections, duration and timeout, then the URL and the script arguments', () => {
    expect(buildWrkCommand(base, '/s')).toEqual({
      command: 'wrk',
      args: [
        '-t',
        '2',
        '-c',
        '64',
        '-d',
        '20s',
        '--timeout',
        '10s',
        '-s',
        '/s/health-live.lua',
        'http://127.0.0.21:8080',
        '--',
        'base=',
      ],
      env: {},
      script: '/s/health-live.lua',
    });
  });

  it('should pass keys and value size to the write script, and the token only in the environment', () => {
    const command = buildWrkCommand(
      {
        ...base,
        profile: 'store-put',
        keyPrefix: 'lt-wrk-1',
        keySpace: 1000,
        valueSize: 128,
        token: 'secret',
        durationS: 2.5,
      },
      '/s',
      '/usr/bin/wrk',
    );
    expect(command.command).toBe('/usr/bin/wrk');
    expect(command.args).toContain('3s');
    expect(command.args.slice(command.args.indexOf('--') + 1)).toEqual([
      'base=',
      'prefix=lt-wrk-1',
      'keys=1000',
      'size=128',
    ]);
    expect(command.env).toEqual({ WRK_TOKEN: 'secret' });
    expect(command.args.join(' ')).not.toContain('secret');
  });

  it("should keep the target's path prefix for the scripts and never use more threads than connections", () => {
    const command = buildWrkCommand(
      { ...base, profile: 'kv-get', target: 'http://localhost:9000/kf/', keyPrefix: 'p', keySpace: 10, connections: 1 },
      '/s',
    );
    expect(command.args.slice(0, 4)).toEqual(['-t', '1', '-c', '1']);
    expect(command.args).toContain('http://localhost:9000/kf');
    expect(command.args.slice(command.args.indexOf('--') + 1)).toEqual(['base=/kf', 'prefix=p', 'keys=10']);
  });

  it('should refuse a target that is not loopback, and specs it cannot run', () => {
    expect(() => buildWrkCommand({ ...base, target: 'http://10.0.0.5:8080' }, '/s')).toThrow(WrkSpecError);
    expect(() => buildWrkCommand({ ...base, connections: 0 }, '/s')).toThrow('connections must be a positive integer');
    expect(() => buildWrkCommand({ ...base, profile: 'kv-get', keySpace: 10 }, '/s')).toThrow('needs a key prefix');
    expect(() => buildWrkCommand({ ...base, profile: 'kv-get', keyPrefix: 'a b', keySpace: 10 }, '/s')).toThrow(
      WrkSpecError,
    );
    expect(() => buildWrkCommand({ ...base, profile: 'store-put', keyPrefix: 'p' }, '/s')).toThrow('keySpace');
  });
});
