import { describe, expect, it } from 'vitest';
import { parseArgs } from './cli-args.util';
import type { ConnectionDefaults } from './connection-defaults.util';
import { UsageError } from './usage.exception';

const AMQP = 'amqp://127.0.0.1:5672';
const DATABASE = 'postgres://keyflow@127.0.0.1:5432/keyflow';

/** Defaults that answer, and that record which of them the parser asked for. */
function defaults(): ConnectionDefaults & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    amqp: () => (asked.push('amqp'), AMQP),
    database: () => (asked.push('database'), DATABASE),
    shards: () => (asked.push('shards'), 16),
  };
}

const noStack: ConnectionDefaults = {
  amqp: () => {
    throw new UsageError('no broker');
  },
  database: () => {
    throw new UsageError('no database');
  },
  shards: () => 16,
};

describe(parseArgs.name, () => {
  it.each([[[]], [['--help']], [['-h']], [['help']]])('should ask for the usage given %j', (argv) => {
    expect(parseArgs(argv, defaults())).toBe('help');
  });

  it('should list with the defaults of every option', () => {
    expect(parseArgs(['list'], defaults())).toEqual({
      command: 'list',
      ids: new Set(),
      all: false,
      yes: false,
      force: false,
      json: false,
      offset: 0,
      amqp: AMQP,
      shards: 16,
    });
  });

  it('should read every option of its command', () => {
    const given = defaults();
    expect(
      parseArgs(['list', '--offset', '100', '--limit', '3', '--json', '--amqp', 'amqp://b', '--shards', '4'], given),
    ).toMatchObject({ command: 'list', offset: 100, limit: 3, json: true, amqp: 'amqp://b', shards: 4 });
    expect(given.asked).toEqual([]);
    expect(
      parseArgs(['replay', '--id', 'a', '--id', 'b', '--force', '--database', 'postgres://db'], given),
    ).toMatchObject({ command: 'replay', ids: new Set(['a', 'b']), force: true, database: 'postgres://db' });
    expect(parseArgs(['purge', '--all', '--yes'], given)).toMatchObject({ command: 'purge', all: true, yes: true });
  });

  it('should look up the database only for replay and purge --yes', () => {
    expect(parseArgs(['list'], defaults())).not.toHaveProperty('database');
    expect(parseArgs(['purge', '--all'], defaults())).not.toHaveProperty('database');
    expect(parseArgs(['purge', '--all', '--yes'], defaults())).toMatchObject({ database: DATABASE });
    expect(parseArgs(['replay', '--all'], defaults())).toMatchObject({ database: DATABASE });
  });

  it.each([
    [['inspect'], 'unknown command "inspect"'],
    [['list', '--verbose'], 'unknown option "--verbose"'],
    [['list', 'constructor'], 'unknown option "constructor"'],
    [['list', '--yes'], '--yes is for purge only'],
    [['purge', '--all', '--force'], '--force is for replay only'],
    [['replay', '--all', '--json'], '--json is for list only'],
    [['replay', '--all', '--offset', '1'], '--offset is for list only'],
    [['purge', '--all', '--limit', '1'], '--limit is for list only'],
    [['list', '--offset', '-1'], '--offset must be an integer of at least 0'],
    [['list', '--limit', '0'], '--limit must be an integer of at least 1'],
    [['list', '--shards', '1.5'], '--shards must be an integer of at least 1'],
    [['replay', '--id'], '--id needs a value'],
    [['replay', '--id', '--all'], '--id needs a value'],
    [['replay'], 'replay needs --id <operation-id> or --all'],
    [['purge', '--yes'], 'purge needs --id <operation-id> or --all'],
  ])('should refuse %j: %s', (argv, reason) => {
    expect(() => parseArgs(argv, defaults())).toThrow(new UsageError(reason));
  });

  it('should fail for want of a broker or a database only when it needs them', () => {
    expect(() => parseArgs(['list'], noStack)).toThrow(new UsageError('no broker'));
    expect(parseArgs(['list', '--amqp', AMQP], noStack)).toMatchObject({ amqp: AMQP });
    expect(() => parseArgs(['replay', '--all', '--amqp', AMQP], noStack)).toThrow(new UsageError('no database'));
    expect(parseArgs(['purge', '--all', '--amqp', AMQP], noStack)).toMatchObject({ command: 'purge' });
  });
});
