import { connectionDefaults, type ConnectionDefaults } from './connection-defaults.util';
import { UsageError } from './usage.exception';

export type Command = 'list' | 'replay' | 'purge';

export interface CliOptions {
  command: Command;
  ids: Set<string>;
  all: boolean;
  yes: boolean;
  force: boolean;
  json: boolean;
  offset: number;
  limit?: number;
  amqp: string;
  /** Only for commands that need the database. */
  database?: string;
  shards: number;
}

type Draft = Omit<CliOptions, 'amqp' | 'shards' | 'database'> & { amqp?: string; shards?: number; database?: string };

interface Flag {
  /** The one command the flag is for, if it is not for all. */
  only?: Command;
  /** Whether the flag takes the next argument as its value. */
  takesValue?: true;
  apply(draft: Draft, value: string, flag: string): void;
}

function count(flag: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer of at least ${min}`);
  return n;
}

/** Every option, as `USAGE` (cli-output.util.ts) lists them. */
const FLAGS = new Map<string, Flag>([
  ['--id', { takesValue: true, apply: (d, v) => void d.ids.add(v) }],
  ['--all', { apply: (d) => void (d.all = true) }],
  ['--yes', { only: 'purge', apply: (d) => void (d.yes = true) }],
  ['--force', { only: 'replay', apply: (d) => void (d.force = true) }],
  ['--json', { only: 'list', apply: (d) => void (d.json = true) }],
  ['--offset', { only: 'list', takesValue: true, apply: (d, v, f) => void (d.offset = count(f, v, 0)) }],
  ['--limit', { only: 'list', takesValue: true, apply: (d, v, f) => void (d.limit = count(f, v, 1)) }],
  ['--amqp', { takesValue: true, apply: (d, v) => void (d.amqp = v) }],
  ['--database', { takesValue: true, apply: (d, v) => void (d.database = v) }],
  ['--shards', { takesValue: true, apply: (d, v, f) => void (d.shards = count(f, v, 1)) }],
]);

export const FLAG_NAMES: readonly string[] = [...FLAGS.keys()];

/**
 * `npm run dlq -- <command> [options]` as options, or `'help'`. Throws `UsageError` for anything it cannot run;
 * a broker or database URL not given is looked up in `defaults` only when the command needs it.
 */
export function parseArgs(argv: string[], defaults: ConnectionDefaults = connectionDefaults()): CliOptions | 'help' {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') return 'help';
  if (command !== 'list' && command !== 'replay' && command !== 'purge')
    throw new UsageError(`unknown command "${command}"`);
  const draft: Draft = { command, ids: new Set(), all: false, yes: false, force: false, json: false, offset: 0 };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] ?? '';
    const spec = FLAGS.get(flag);
    if (!spec) throw new UsageError(`unknown option "${flag}"`);
    if (spec.only !== undefined && command !== spec.only) throw new UsageError(`${flag} is for ${spec.only} only`);
    let value = '';
    if (spec.takesValue) {
      const next = rest[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      value = next;
    }
    spec.apply(draft, value, flag);
  }
  if (command !== 'list' && !draft.all && draft.ids.size === 0) {
    throw new UsageError(`${command} needs --id <operation-id> or --all`);
  }
  const needsDatabase = command === 'replay' || (command === 'purge' && draft.yes);
  return {
    ...draft,
    amqp: draft.amqp ?? defaults.amqp(),
    ...(needsDatabase ? { database: draft.database ?? defaults.database() } : {}),
    shards: draft.shards ?? defaults.shards(),
  };
}
