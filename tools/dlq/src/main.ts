import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEAD_LETTER_QUEUE } from '@keyflow/contracts';
import { createPool, KvRepository, OperationRepository } from '@keyflow/db';
import { AmqpDeadLetterQueue } from './dead-letter-queue.service';
import { DlqService } from './dlq.service';
import { DbReplayStore } from './replay-store.service';

const USAGE = `Inspect, replay and purge keyflow's dead letters (the ${DEAD_LETTER_QUEUE} quorum queue).

usage: npm run dlq -- <command> [options]

commands:
  list                 show one page of dead letters (they stay in the queue)
  replay               put dead letters back on their shard queue, to be applied again; refuses a letter whose key
                       was written by something newer since (it says what would be overwritten), and removes
                       without replaying a letter whose operation was already applied
  purge                delete dead letters for good

options:
  --id <operation-id>  only this operation (repeatable); replay and purge need --id or --all
  --all                every dead letter
  --offset <n>         list: skip the first n letters (default 0)
  --limit <n>          list: show at most n letters (default 50; with --json, every letter)
  --force              replay: replay over newer writes too, after printing what each would overwrite
  --yes                purge: really delete (otherwise it only shows what it would delete)
  --json               list: print a JSON array instead of a table
  --amqp <url>         broker URL (default: $AMQP_URL, else the running stack's .keyflow/stack.json)
  --database <url>     replay, purge --yes: the primary (default: $DATABASE_URL, else the stack's)
  --shards <n>         shard count (default: $KV_SHARDS, else 16)

A replayed letter applies only while its key is still at the version the check saw; a write in between makes
the worker refuse it, and it comes back here with the reason. Run one dlq command at a time: letters another run
holds are invisible to it.
`;

type Command = 'list' | 'replay' | 'purge';

interface Options {
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

class UsageError extends Error {}

interface StackFile {
  amqp?: string[];
  db?: { write?: string };
}

function readStackFile(): StackFile | undefined {
  const file = process.env.KEYFLOW_STACK_FILE ?? join(process.cwd(), '.keyflow', 'stack.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StackFile) : undefined;
}

function defaultAmqpUrl(): string {
  if (process.env.AMQP_URL) return process.env.AMQP_URL.split(',')[0] ?? '';
  const url = readStackFile()?.amqp?.[0];
  if (url) return url;
  throw new UsageError('no broker: pass --amqp <url>, set AMQP_URL, or start the local stack (npm start)');
}

function defaultDatabaseUrl(): string {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const url = readStackFile()?.db?.write;
  if (url) return url;
  throw new UsageError('no database: pass --database <url>, set DATABASE_URL, or start the local stack (npm start)');
}

function count(flag: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer of at least ${min}`);
  return n;
}

export function parseArgs(argv: string[]): Options | 'help' {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') return 'help';
  if (command !== 'list' && command !== 'replay' && command !== 'purge')
    throw new UsageError(`unknown command "${command}"`);
  const options: Omit<Options, 'amqp' | 'shards' | 'database'> & { amqp?: string; shards?: number; database?: string } =
    { command, ids: new Set(), all: false, yes: false, force: false, json: false, offset: 0 };
  const only = (flag: string, allowed: Command) => {
    if (command !== allowed) throw new UsageError(`${flag} is for ${allowed} only`);
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] ?? '';
    const value = () => {
      const v = rest[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--id':
        options.ids.add(value());
        break;
      case '--all':
        options.all = true;
        break;
      case '--yes':
        only(flag, 'purge');
        options.yes = true;
        break;
      case '--force':
        only(flag, 'replay');
        options.force = true;
        break;
      case '--json':
        only(flag, 'list');
        options.json = true;
        break;
      case '--offset':
        only(flag, 'list');
        options.offset = count(flag, value(), 0);
        break;
      case '--limit':
        only(flag, 'list');
        options.limit = count(flag, value(), 1);
        break;
      case '--amqp':
        options.amqp = value();
        break;
      case '--database':
        options.database = value();
        break;
      case '--shards':
        options.shards = count(flag, value(), 1);
        break;
      default:
        throw new UsageError(`unknown option "${flag}"`);
    }
  }
  if (command !== 'list' && !options.all && options.ids.size === 0) {
    throw new UsageError(`${command} needs --id <operation-id> or --all`);
  }
  const needsDatabase = command === 'replay' || (command === 'purge' && options.yes);
  return {
    ...options,
    amqp: options.amqp ?? defaultAmqpUrl(),
    ...(needsDatabase ? { database: options.database ?? defaultDatabaseUrl() } : {}),
    shards: options.shards ?? Number(process.env.KV_SHARDS ?? 16),
  };
}

async function run(options: Options): Promise<number> {
  const queue = await AmqpDeadLetterQueue.open(options.amqp);
  const pool = options.database
    ? createPool(options.database, { applicationName: 'dlq', max: 2, onError: () => undefined })
    : undefined;
  try {
    const store = pool ? new DbReplayStore(new KvRepository(pool), new OperationRepository(pool)) : undefined;
    const service = new DlqService(queue, store, { log: console.log, error: console.error }, options.shards);
    const commands: Record<Command, () => Promise<number>> = {
      list: () => service.list(options),
      replay: () => service.replay(options),
      purge: () => service.purge(options),
    };
    return await commands[options.command]();
  } finally {
    // Letters still held (kept, refused, not selected) go back to the queue, in order.
    await queue.close();
    await pool?.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  let options: Options | 'help';
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`dlq: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw err;
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  process.exitCode = await run(options);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`dlq: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
