import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureSecrets, maskUrl, readSecrets, secretsFile } from './secrets.util';
import { testTopology } from './stack.fixture';

describe(ensureSecrets.name, () => {
  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  function layout(): { stackDir: string; data: string } {
    dir = mkdtempSync(join(tmpdir(), 'keyflow-secrets-'));
    const data = join(dir, 'data');
    mkdirSync(data);
    return { stackDir: dir, data };
  }

  it('should make every password once, in a file only its owner can read, and keep it across starts', () => {
    const where = layout();
    const { topology } = testTopology();
    const first = ensureSecrets(where, topology);
    expect(first.created).toBe(true);
    expect(statSync(secretsFile(where)).mode & 0o777).toBe(0o600);
    const passwords = JSON.stringify(first.secrets).match(/"password":"[^"]+"/g) ?? [];
    expect(passwords).toHaveLength(11);
    expect(new Set(passwords).size).toBe(11);
    for (const p of passwords) expect(p).toMatch(/^"password":"[A-Za-z0-9_-]{24}"$/);
    expect(first.secrets.postgres.app.username).toBe(topology.database.user);

    const again = ensureSecrets(where, topology);
    expect(again).toEqual({ secrets: first.secrets, created: false });
  });

  it('should make a file that became readable by others private again', () => {
    const where = layout();
    ensureSecrets(where, testTopology().topology);
    chmodSync(secretsFile(where), 0o644);
    readSecrets(where);
    expect(statSync(secretsFile(where)).mode & 0o777).toBe(0o600);
  });

  it('should keep the PostgreSQL passwords Patroni set for a stack older than the file', () => {
    const where = layout();
    writeFileSync(
      join(where.data, 'postgres-secrets.json'),
      JSON.stringify({ superuser: 'a', replication: 'b', rewind: 'c' }),
    );
    const { secrets } = ensureSecrets(where, testTopology().topology);
    expect([secrets.postgres.superuser, secrets.postgres.replication, secrets.postgres.rewind]).toEqual([
      { username: 'postgres', password: 'a' },
      { username: 'replicator', password: 'b' },
      { username: 'rewinder', password: 'c' },
    ]);
    expect(JSON.parse(readFileSync(secretsFile(where), 'utf8'))).toEqual(secrets);
  });
});

describe(maskUrl.name, () => {
  it('should hide the password of a URL and leave the rest', () => {
    expect(maskUrl('postgres://keyflow:s3cr-t_@127.0.0.1:16501/keyflow')).toBe(
      'postgres://keyflow:***@127.0.0.1:16501/keyflow',
    );
    expect(maskUrl('amqp://keyflow:pw@127.0.0.1:15710/keyflow')).toBe('amqp://keyflow:***@127.0.0.1:15710/keyflow');
    expect(maskUrl('postgres://keyflow@127.0.0.1:5432/keyflow')).toBe('postgres://keyflow@127.0.0.1:5432/keyflow');
    expect(maskUrl('http://127.0.0.1:8404/stats')).toBe('http://127.0.0.1:8404/stats');
  });
});
