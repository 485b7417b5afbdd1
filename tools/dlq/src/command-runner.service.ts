import { createPool, KvRepository, OperationRepository } from '@keyflow/db';
import { AmqpDeadLetterQueue, DbReplayStore, DlqService, type Output } from '@keyflow/dead-letters';
import type { CliOptions, Command } from './cli-args.util';

/**
 * Runs one command against the broker (and the database when the command needs one) and returns its exit code.
 * The connections live for the command only.
 */
export async function runCommand(options: CliOptions, out: Output): Promise<number> {
  const queue = await AmqpDeadLetterQueue.open(options.amqp);
  const pool = options.database
    ? createPool(options.database, { applicationName: 'dlq', max: 2, onError: () => undefined })
    : undefined;
  try {
    const store = pool ? new DbReplayStore(new KvRepository(pool), new OperationRepository(pool)) : undefined;
    const service = new DlqService(queue, store, out, options.shards);
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
