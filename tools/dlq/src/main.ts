import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ConsumeMessage } from 'amqplib';
import { DEAD_LETTER_QUEUE, shardOf, shardQueueName } from '@keyflow/contracts';
import { describeDeadLetter, formatTable, type DeadLetter } from './dead-letter.util';

const USAGE = `Inspect, replay and purge keyflow's dead letters (the ${DEAD_LETTER_QUEUE} quorum queue).

usage: npm run dlq -- <command> [options]

commands:
  list                 show every dead letter (they stay in the queue)
  replay               put dead letters back on their shard queue, to be applied again
  purge                delete dead letters for good

options:
  --id <operation-id>  only this operation (repeatable); replay and purge need --id or --all
  --all                every dead letter
  --yes                purge: really delete (otherwise it only shows what it would delete)
  --json               list: print JSON instead of a table
  --amqp <url>         broker URL (default: $AMQP_URL, else the running stack's .keyflow/stack.json)
  --shards <n>         shard count (default: $KV_SHARDS, else 16)
`;

interface Options {
  command: 'list' | 'replay' | 'purge';
  ids: Set<string>;
  all: boolean;
  yes: boolean;
  json: boolean;
  amqp: string;
  shards: number;
}

class UsageError extends Error {}

function defaultAmqpUrl(): string {
  if (process.env.AMQP_URL) return process.env.AMQP_URL.split(',')[0] ?? '';
  const file = process.env.KEYFLOW_STACK_FILE ?? join(process.cwd(), '.keyflow', 'stack.json');
  if (existsSync(file)) {
    const stack = JSON.parse(readFileSync(file, 'utf8')) as { amqp?: string[] };
    if (stack.amqp?.[0]) return stack.amqp[0];
  }
  throw new UsageError('no broker: pass --amqp <url>, set AMQP_URL, or start the local stack (npm start)');
}

export function parseArgs(argv: string[]): Options | 'help' {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') return 'help';
  if (command !== 'list' && command !== 'replay' && command !== 'purge')
    throw new UsageError(`unknown command "${command}"`);
  const options: Omit<Options, 'amqp' | 'shards'> & { amqp?: string; shards?: number } = {
    command,
    ids: new Set(),
    all: false,
    yes: false,
    json: false,
  };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
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
        options.yes = true;
        break;
      case '--json':
        options.json = true;
        break;
      case '--amqp':
        options.amqp = value();
        break;
      case '--shards': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) throw new UsageError('--shards must be a positive integer');
        options.shards = n;
        break;
      }
      default:
        throw new UsageError(`unknown option "${flag}"`);
    }
  }
  if (command !== 'list' && !options.all && options.ids.size === 0) {
    throw new UsageError(`${command} needs --id <operation-id> or --all`);
  }
  return {
    ...options,
    amqp: options.amqp ?? defaultAmqpUrl(),
    shards: options.shards ?? Number(process.env.KV_SHARDS ?? 16),
  };
}

/**
 * Takes every dead letter off the queue without acknowledging it; `settle` decides per message. Messages
 * left unsettled return to the queue, in order, when the channel closes.
 */
async function withDeadLetters(
  url: string,
  settle: (
    letters: Array<{ message: ConsumeMessage; letter: DeadLetter }>,
    channel: import('amqplib').ConfirmChannel,
  ) => Promise<void>,
): Promise<void> {
  const connection = await connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    const { messageCount } = await channel.checkQueue(DEAD_LETTER_QUEUE);
    const taken: Array<{ message: ConsumeMessage; letter: DeadLetter }> = [];
    if (messageCount > 0) {
      await channel.prefetch(messageCount);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        void channel.consume(DEAD_LETTER_QUEUE, (message) => {
          if (!message) return;
          taken.push({ message, letter: describeDeadLetter(message) });
          if (taken.length >= messageCount) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
    }
    await settle(taken, channel);
    await channel.waitForConfirms();
    await channel.close();
  } finally {
    await connection.close();
  }
}

async function run(options: Options): Promise<number> {
  const selected = (l: DeadLetter) => options.all || (l.operationId !== undefined && options.ids.has(l.operationId));
  let exit = 0;
  await withDeadLetters(options.amqp, async (letters, channel) => {
    if (options.command === 'list') {
      console.log(
        options.json
          ? JSON.stringify(
              letters.map((l) => l.letter),
              null,
              2,
            )
          : formatTable(letters.map((l) => l.letter)),
      );
      if (!options.json) console.log(`\n${letters.length} dead letter(s) in ${DEAD_LETTER_QUEUE}`);
      return;
    }
    const chosen = letters.filter((l) => selected(l.letter));
    const missing = [...options.ids].filter((id) => !letters.some((l) => l.letter.operationId === id));
    for (const id of missing) console.error(`no dead letter for operation ${id}`);
    if (missing.length) exit = 1;

    if (options.command === 'purge') {
      if (!options.yes) {
        console.log(formatTable(chosen.map((l) => l.letter)));
        console.log(`\nwould delete ${chosen.length} dead letter(s); add --yes to delete them`);
        exit = exit || (chosen.length ? 1 : 0);
        return;
      }
      for (const { message, letter } of chosen) {
        channel.ack(message);
        console.log(`purged ${letter.operationId ?? '(no operation id)'}`);
      }
      console.log(`${chosen.length} dead letter(s) purged`);
      return;
    }

    let replayed = 0;
    for (const { message, letter } of chosen) {
      if (letter.key === undefined) {
        console.error(`cannot replay ${letter.operationId ?? 'a message'}: its key is unreadable (purge it instead)`);
        exit = 1;
        continue;
      }
      const queue = shardQueueName(shardOf(letter.key, options.shards));
      // Publish first and wait for the confirm, then ack: a crash in between leaves a duplicate, never a loss.
      await new Promise<void>((resolve, reject) =>
        channel.sendToQueue(
          queue,
          message.content,
          {
            persistent: true,
            contentType: 'application/json',
            messageId: message.properties.messageId as string | undefined,
          },
          (err) => (err ? reject(err as Error) : resolve()),
        ),
      );
      channel.ack(message);
      replayed++;
      console.log(
        `replayed ${letter.operationId ?? '(no operation id)'} (${letter.type ?? '?'} ${letter.key}) to ${queue}`,
      );
    }
    console.log(`${replayed} dead letter(s) replayed`);
  });
  return exit;
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
