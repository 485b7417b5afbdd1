import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionDefaults } from './connection-defaults.util';
import { UsageError } from './usage.exception';

function stackFile(content: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dlq-defaults-')), 'stack.json');
  writeFileSync(file, JSON.stringify(content));
  return file;
}

describe(connectionDefaults.name, () => {
  it('should take the environment first (the first of several broker URLs)', () => {
    const defaults = connectionDefaults({
      AMQP_URL: 'amqp://a,amqp://b',
      DATABASE_URL: 'postgres://db',
      KV_SHARDS: '8',
      KEYFLOW_STACK_FILE: stackFile({ amqp: ['amqp://stack'], db: { write: 'postgres://stack' } }),
    });
    expect([defaults.amqp(), defaults.database(), defaults.shards()]).toEqual(['amqp://a', 'postgres://db', 8]);
  });

  it("should fall back to the running stack's stack.json, and to 16 shards", () => {
    const defaults = connectionDefaults({
      KEYFLOW_STACK_FILE: stackFile({ amqp: ['amqp://stack'], db: { write: 'postgres://stack' } }),
    });
    expect([defaults.amqp(), defaults.database(), defaults.shards()]).toEqual(['amqp://stack', 'postgres://stack', 16]);
  });

  it('should say how to name a broker or a database when there is neither', () => {
    const defaults = connectionDefaults({ KEYFLOW_STACK_FILE: join(tmpdir(), 'no-such-dir', 'stack.json') });
    expect(() => defaults.amqp()).toThrow(
      new UsageError('no broker: pass --amqp <url>, set AMQP_URL, or start the local stack (npm start)'),
    );
    expect(() => defaults.database()).toThrow(
      new UsageError('no database: pass --database <url>, set DATABASE_URL, or start the local stack (npm start)'),
    );
  });
});
