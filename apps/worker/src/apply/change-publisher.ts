import type { ConfirmChannel } from 'amqplib';
import { CHANGE_STREAM, encodeChange, type Change, type WriteMessage } from '@keyflow/contracts';
import type { AppliedOp } from '@keyflow/db';
import { valueJsonOf } from './value-json.util';

/** A change of a batch, and whether an earlier delivery of its write had already applied it. */
export interface BatchChange {
  change: Change;
  /** Its write was found applied already: the change may be in the stream from that earlier delivery. */
  duplicate: boolean;
}

/**
 * The changes an apply outcome made, in apply order: one per applied write, with the version it was applied at,
 * including writes found applied by an earlier delivery (their first publish may never have happened: the worker
 * died between commit and publish). A conflict changed nothing and has none; a rejected write is not in `applied`.
 * A delete whose write says `cause: 'expire'` (the TTL sweeper's) is an `expire`. One write delivered twice within
 * the batch has one change.
 */
export function changesOf(applied: AppliedOp[], writes: WriteMessage[]): BatchChange[] {
  const byId = new Map(writes.map((write) => [write.id, write]));
  const seen = new Set<string>();
  const changes: BatchChange[] = [];
  for (const op of applied) {
    if (op.status !== 'applied' || op.version < 1) continue;
    const identity = `${op.version}:${op.key}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    const write = byId.get(op.id);
    const kind = op.type === 'put' ? 'put' : write?.cause === 'expire' ? 'expire' : 'delete';
    changes.push({
      change: {
        kind,
        key: op.key,
        version: op.version,
        updatedAt: op.updatedAt,
        // What the applier stored (`toWriteOp`), and the cache holds: the same text, serialised once.
        ...(kind === 'put' ? { valueJson: write ? valueJsonOf(write) : 'null' } : {}),
      },
      duplicate: op.duplicate,
    });
  }
  return changes;
}

/**
 * Publishes a batch's changes to the change stream, one message per change, on the shard's own consumer channel (a
 * confirm channel) and resolves once the broker confirmed them all: the batch's write messages may be acked only
 * then.
 *
 * Why the consumer's channel: the broker hands a shard's unacked messages to another worker only once this channel is
 * closed, and a closed channel publishes nothing more (amqplib throws before sending), so a worker that lost its shard
 * can never publish a change after the worker that took over re-published it. On one channel, publishes reach the
 * stream in the order sent: per key, first copies of changes are in version order.
 *
 * `redo` marks every change of a retried publish (the first try may have reached the stream) and of a write an
 * earlier delivery applied; watchers remove such a change when the stream already holds its key and version.
 */
export class ChangePublisher {
  constructor(private readonly confirmTimeoutMs = 10_000) {}

  async publish(channel: ConfirmChannel, changes: BatchChange[], retry: boolean): Promise<void> {
    if (changes.length === 0) return;
    for (const { change, duplicate } of changes) {
      const { headers, content } = encodeChange(change, retry || duplicate);
      channel.publish('', CHANGE_STREAM, content, {
        persistent: true,
        contentType: change.kind === 'put' ? 'application/json' : undefined,
        headers,
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`the broker did not confirm ${changes.length} change(s) in ${this.confirmTimeoutMs} ms`)),
        this.confirmTimeoutMs,
      );
    });
    try {
      await Promise.race([channel.waitForConfirms(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
