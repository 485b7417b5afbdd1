import { describeDeadLetter } from '../dead-letter.util';
import type { DeadLetterQueue, HeldLetter } from '../dead-letter-queue.service';

interface FakeMessage {
  content: Buffer;
  headers: Record<string, unknown>;
  messageId?: string;
}

/**
 * An in-process dead-letter queue with the broker's semantics that the tool relies on: `next` takes the head and
 * holds it until `remove` (ack) or `close`, which puts every held letter back at the head in its original order.
 * A removal counts as done for the broker only after `flush` (an ack has no reply of its own).
 */
export class FakeDeadLetterQueue implements DeadLetterQueue {
  private ready: FakeMessage[];
  /** Index of the head in `ready` (shifting a 70,000-element array per letter would make the specs quadratic). */
  private head = 0;
  private readonly held = new Map<HeldLetter, { message: FakeMessage; position: number }>();
  private taken = 0;
  private pendingRemovals: string[] = [];
  /** Letters taken off the queue so far (held or settled). */
  takenCount = 0;
  /** The most letters held at once. */
  maxHeld = 0;
  readonly removed: string[] = [];
  readonly confirmedRemovals = new Set<string>();
  readonly published: Array<{ queue: string; operationId?: string; content: string; messageId?: string }> = [];
  /** Set to make the next publish fail (the broker nacked it, or the channel closed). */
  failNextPublish?: Error;

  constructor(messages: Array<FakeMessage | Record<string, unknown>>) {
    this.ready = messages.map((m) =>
      Buffer.isBuffer((m as FakeMessage).content)
        ? (m as FakeMessage)
        : { content: Buffer.from(JSON.stringify(m)), headers: { 'x-first-death-reason': 'rejected' } },
    );
  }

  size(): Promise<number> {
    return Promise.resolve(this.ready.length - this.head);
  }

  next(): Promise<HeldLetter | undefined> {
    const message = this.ready[this.head];
    if (!message) return Promise.resolve(undefined);
    this.head++;
    const held: HeldLetter = {
      letter: describeDeadLetter({ content: message.content, properties: { headers: message.headers } as never }),
      content: message.content,
      ...(message.messageId ? { messageId: message.messageId } : {}),
    };
    this.held.set(held, { message, position: this.taken++ });
    this.takenCount++;
    this.maxHeld = Math.max(this.maxHeld, this.held.size);
    return Promise.resolve(held);
  }

  remove(held: HeldLetter): void {
    if (!this.held.delete(held)) throw new Error('removing a letter that is not held');
    const id = held.letter.operationId ?? '(none)';
    this.removed.push(id);
    this.pendingRemovals.push(id);
  }

  flush(): Promise<void> {
    for (const id of this.pendingRemovals) this.confirmedRemovals.add(id);
    this.pendingRemovals = [];
    return Promise.resolve();
  }

  publish(queue: string, held: HeldLetter): Promise<void> {
    const failure = this.failNextPublish;
    this.failNextPublish = undefined;
    if (failure) return Promise.reject(failure);
    this.published.push({
      queue,
      ...(held.letter.operationId ? { operationId: held.letter.operationId } : {}),
      content: held.content.toString('utf8'),
      ...(held.messageId ? { messageId: held.messageId } : {}),
    });
    return Promise.resolve();
  }

  close(): Promise<void> {
    const back = [...this.held.values()].sort((a, b) => a.position - b.position).map((h) => h.message);
    this.held.clear();
    this.ready = [...back, ...this.ready.slice(this.head)];
    this.head = 0;
    return this.flush();
  }

  /** The operation ids left in the queue, in order. */
  operationIds(): string[] {
    return this.ready
      .slice(this.head)
      .map((m) => (JSON.parse(m.content.toString('utf8')) as { id?: string }).id ?? '(none)');
  }
}
