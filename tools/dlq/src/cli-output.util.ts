import { DEAD_LETTER_QUEUE } from '@keyflow/contracts';
import type { Output } from '@keyflow/dead-letters';

export const USAGE = `Inspect, replay and purge keyflow's dead letters (the ${DEAD_LETTER_QUEUE} quorum queue).

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

/** Exit codes: 0 done, 1 a command found a problem (or the tool failed), 2 a command line it cannot run. */
export const EXIT_USAGE = 2;
export const EXIT_FAILED = 1;

/** What a command line the tool cannot run prints (on stderr): the reason, then the usage. */
export function usageErrorText(reason: string): string {
  return `dlq: ${reason}\n\n${USAGE}`;
}

/** What an unexpected failure prints (on stderr): one line. */
export function failureText(err: unknown): string {
  return `dlq: ${err instanceof Error ? err.message : String(err)}`;
}

/** Command output to the terminal: results on stdout, problems on stderr. */
export const consoleOutput: Output = { log: console.log, error: console.error };
