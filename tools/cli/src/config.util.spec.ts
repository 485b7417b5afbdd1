import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  credentialsFilePath,
  resolveConnection,
  stackFilePath,
  storeCredential,
  type ConfigSources,
} from './config.util';

const GATEWAY = 'http://127.0.0.21:8080';
const credential = (token: string) => ({
  token,
  tokenId: 'id',
  tokenName: 'keyflow-cli@host',
  username: 'ada',
  createdAt: '2026-11-23T10:15:30.123Z',
});

describe(resolveConnection.name, () => {
  let dir: string;
  let sources: ConfigSources;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyflow-cli-config-'));
    mkdirSync(join(dir, 'repo', '.keyflow'), { recursive: true });
    mkdirSync(join(dir, 'repo', 'apps', 'api'), { recursive: true });
    writeFileSync(
      join(dir, 'repo', '.keyflow', 'stack.json'),
      JSON.stringify({ gateway: `${GATEWAY}/`, token: 'admin-token' }),
    );
    // From a subdirectory of the checkout, as `npx keyflow` may be run.
    sources = { env: {}, cwd: join(dir, 'repo', 'apps', 'api'), home: join(dir, 'home') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should find the nearest stack file and take its gateway and admin token', () => {
    expect(stackFilePath(sources)).toBe(join(dir, 'repo', '.keyflow', 'stack.json'));
    expect(resolveConnection(sources)).toEqual({
      url: GATEWAY,
      urlFrom: join(dir, 'repo', '.keyflow', 'stack.json'),
      token: 'admin-token',
      tokenFrom: join(dir, 'repo', '.keyflow', 'stack.json'),
    });
  });

  it('should let KEYFLOW_URL and KEYFLOW_TOKEN win over the stack file', () => {
    const env = { KEYFLOW_URL: 'https://kv.example.com', KEYFLOW_TOKEN: 'env-token' };
    expect(resolveConnection({ ...sources, env })).toEqual({
      url: 'https://kv.example.com',
      urlFrom: 'KEYFLOW_URL',
      token: 'env-token',
      tokenFrom: 'KEYFLOW_TOKEN',
    });
    // Another URL does not get the local admin's token.
    expect(resolveConnection({ ...sources, env: { KEYFLOW_URL: 'https://kv.example.com' } })).toEqual({
      url: 'https://kv.example.com',
      urlFrom: 'KEYFLOW_URL',
    });
    expect(resolveConnection({ ...sources, env: { KEYFLOW_TOKEN: 'env-token' } })).toMatchObject({
      url: GATEWAY,
      token: 'env-token',
    });
  });

  it('should prefer the token login stored for the gateway to the stack’s admin token', () => {
    storeCredential(credentialsFilePath(sources), GATEWAY, credential('user-token'));
    expect(resolveConnection(sources)).toMatchObject({ url: GATEWAY, token: 'user-token' });
    expect(resolveConnection({ ...sources, env: { XDG_CONFIG_HOME: join(dir, 'elsewhere') } })).toMatchObject({
      token: 'admin-token',
    });
  });

  it('should read KEYFLOW_STACK_FILE, and say what to do when there is no service', () => {
    writeFileSync(join(dir, 'other.json'), JSON.stringify({ gateway: 'http://10.0.0.1:8080', token: 't' }));
    expect(resolveConnection({ ...sources, env: { KEYFLOW_STACK_FILE: join(dir, 'other.json') } })).toMatchObject({
      url: 'http://10.0.0.1:8080',
    });
    expect(() => resolveConnection({ ...sources, cwd: dir })).toThrow(
      'no keyflow service: set KEYFLOW_URL (and KEYFLOW_TOKEN), or start the local stack with `npm start`',
    );
    expect(() => resolveConnection({ ...sources, env: { KEYFLOW_STACK_FILE: join(dir, 'gone.json') } })).toThrow(
      `start the local stack with \`npm start\` (no gateway in ${join(dir, 'gone.json')})`,
    );
    writeFileSync(join(dir, 'broken.json'), '{');
    expect(() => resolveConnection({ ...sources, env: { KEYFLOW_STACK_FILE: join(dir, 'broken.json') } })).toThrow(
      `cannot read the stack file ${join(dir, 'broken.json')}`,
    );
  });
});

describe(storeCredential.name, () => {
  it('should keep other gateways’ tokens and write the file 0600 in a 0700 directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyflow-cli-creds-'));
    try {
      const file = credentialsFilePath({ env: {}, cwd: dir, home: dir });
      expect(file).toBe(join(dir, '.config', 'keyflow', 'credentials.json'));
      storeCredential(file, 'http://a:1/', credential('a'));
      storeCredential(file, 'http://b:2', credential('b'));
      storeCredential(file, 'http://a:1', credential('a2'));
      const stored = JSON.parse(readFileSync(file, 'utf8')) as { gateways: Record<string, { token: string }> };
      expect(Object.fromEntries(Object.entries(stored.gateways).map(([url, c]) => [url, c.token]))).toEqual({
        'http://a:1': 'a2',
        'http://b:2': 'b',
      });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, '.config', 'keyflow')).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
