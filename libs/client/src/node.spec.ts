import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionFromEnvironment, stackFilePath } from './node';

function checkout(stack?: object): string {
  const root = mkdtempSync(join(tmpdir(), 'kf-client-'));
  mkdirSync(join(root, 'deep', 'er'), { recursive: true });
  if (stack) {
    mkdirSync(join(root, '.keyflow'));
    writeFileSync(join(root, '.keyflow', 'stack.json'), JSON.stringify(stack));
  }
  return root;
}

describe(connectionFromEnvironment.name, () => {
  it('should take the nearest stack file’s gateway and admin token', () => {
    const root = checkout({ gateway: 'http://127.0.0.21:8080/', token: 'admin' });
    const cwd = join(root, 'deep', 'er');
    expect(stackFilePath({ env: {}, cwd })).toBe(join(root, '.keyflow', 'stack.json'));
    expect(connectionFromEnvironment({ env: {}, cwd })).toEqual({ baseUrl: 'http://127.0.0.21:8080', token: 'admin' });
  });

  it('should let KEYFLOW_URL and KEYFLOW_TOKEN win, and never send the stack’s token elsewhere', () => {
    const cwd = checkout({ gateway: 'http://127.0.0.21:8080', token: 'admin' });
    expect(connectionFromEnvironment({ env: { KEYFLOW_URL: 'https://kv.example', KEYFLOW_TOKEN: 't' }, cwd })).toEqual({
      baseUrl: 'https://kv.example',
      token: 't',
    });
    expect(connectionFromEnvironment({ env: { KEYFLOW_URL: 'https://kv.example' }, cwd })).toEqual({
      baseUrl: 'https://kv.example',
    });
  });

  it('should say how to name the service when nothing does', () => {
    expect(() => connectionFromEnvironment({ env: {}, cwd: checkout() })).toThrow(/set KEYFLOW_URL/);
  });
});
