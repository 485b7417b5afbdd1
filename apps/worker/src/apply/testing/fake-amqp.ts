import { EventEmitter } from 'node:events';
import {
  AmqpConnectionManagerClass,
  type AmqpConnectionManager,
  type ChannelWrapper,
  type CreateChannelOpts,
} from 'amqp-connection-manager';
import { IllegalOperationError, type ConsumeMessage, type Message } from 'amqplib';

/**
 * An in-process broker for the worker's unit tests: queues with the redelivery rule that matters here (the
 * unsettled deliveries of a channel that closes go back to the front of their queue and are delivered to
 * the next consumer), behind a fake connection manager that hands out amqp-connection-manager's real
 * `ChannelWrapper`s. The channel copies amqplib 2.x: settling on a closing or closed channel throws
 * `IllegalOperationError`, and a refused declaration rejects, emits `error`, then `close`.
 * (`libs/messaging/src/testing/fake-amqp.ts` is its sibling for the lib's own tests.)
 */

interface Pending {
  queue: string;
  content: Buffer;
  properties: Record<string, unknown>;
}

export class FakeChannel extends EventEmitter {
  state: 'open' | 'closing' | 'closed' = 'open';
  readonly acked: number[] = [];
  readonly unacked = new Map<number, Pending>();
  private consumer?: { queue: string; onMessage: (message: ConsumeMessage | null) => void };
  private deliveryTag = 0;
  private finishClose?: () => void;

  constructor(private readonly broker: FakeBroker) {
    super();
  }

  async assertQueue(queue: string): Promise<{ queue: string }> {
    await this.rpc();
    const refusal = this.broker.refuse?.(queue);
    if (refusal) {
      const err = Object.assign(new Error(`Operation failed: QueueDeclare; ${refusal}`), { code: 406 });
      this.closeByBroker(`Channel closed by server: ${refusal}`);
      throw err;
    }
    return { queue };
  }

  async assertExchange(exchange: string): Promise<{ exchange: string }> {
    await this.rpc();
    return { exchange };
  }

  async bindQueue(): Promise<Record<string, never>> {
    await this.rpc();
    return {};
  }

  async prefetch(): Promise<Record<string, never>> {
    await this.rpc();
    return {};
  }

  async consume(queue: string, onMessage: (message: ConsumeMessage | null) => void): Promise<{ consumerTag: string }> {
    await this.rpc();
    this.consumer = { queue, onMessage };
    setImmediate(() => this.broker.dispatch(queue));
    return { consumerTag: `ctag-${queue}` };
  }

  consumes(queue: string): boolean {
    return this.state === 'open' && this.consumer?.queue === queue;
  }

  deliver(pending: Pending): void {
    const deliveryTag = ++this.deliveryTag;
    this.unacked.set(deliveryTag, pending);
    const message = {
      content: pending.content,
      fields: { deliveryTag, redelivered: false, exchange: '', routingKey: pending.queue, consumerTag: '' },
      properties: { headers: {}, ...pending.properties },
    } as unknown as ConsumeMessage;
    this.consumer?.onMessage(message);
  }

  ack(message: Message, allUpTo = false): void {
    this.assertOpen();
    const tag = message.fields.deliveryTag;
    for (const t of [...this.unacked.keys()]) {
      if (t === tag || (allUpTo && t < tag)) {
        this.unacked.delete(t);
        this.acked.push(t);
      }
    }
  }

  nack(message: Message, _allUpTo = false, requeue = true): void {
    this.assertOpen();
    const pending = this.unacked.get(message.fields.deliveryTag);
    this.unacked.delete(message.fields.deliveryTag);
    if (pending && requeue) this.broker.requeue([pending]);
  }

  /** amqplib: from `close()` on, the channel is closing (nothing can be settled) until the broker's CloseOk. */
  close(): Promise<void> {
    this.assertOpen();
    this.state = 'closing';
    return new Promise((resolve) => {
      this.finishClose = () => {
        this.toClosed();
        resolve();
      };
      if (!this.broker.holdCloses) this.finishClose();
    });
  }

  /** The broker's CloseOk for a close held by `broker.holdCloses`. */
  closeOk(): void {
    this.finishClose?.();
  }

  /** The broker cancels the consumer (the queue was deleted, say): amqplib calls the callback with null. */
  cancelConsumer(): void {
    this.consumer?.onMessage(null);
  }

  closeByBroker(reason: string): void {
    if (this.state === 'closed') return;
    const error = new Error(reason);
    if (this.listenerCount('error') === 0)
      throw new Error(`unhandled channel error (amqplib drops the connection): ${reason}`);
    this.emit('error', error);
    this.toClosed();
  }

  toClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const returned = [...this.unacked.values()];
    this.unacked.clear();
    this.broker.requeue(returned);
    this.emit('close');
  }

  private async rpc(): Promise<void> {
    this.assertOpen();
    await Promise.resolve();
    this.assertOpen();
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new IllegalOperationError(`Channel ${this.state}`);
  }
}

export class FakeBroker {
  /** The refusal text for a queue declaration the broker refuses, if it does. */
  refuse?: (queue: string) => string | undefined;
  /** Channels closed by the client stay `closing` until `closeOk()`. */
  holdCloses = false;
  readonly channels: FakeChannel[] = [];
  private readonly queues = new Map<string, Pending[]>();

  publish(queue: string, body: unknown, properties: Record<string, unknown> = {}): void {
    this.queue(queue).push({ queue, content: Buffer.from(JSON.stringify(body)), properties });
    setImmediate(() => this.dispatch(queue));
  }

  requeue(returned: Pending[]): void {
    for (const pending of [...returned].reverse()) this.queue(pending.queue).unshift(pending);
    for (const queue of new Set(returned.map((p) => p.queue))) setImmediate(() => this.dispatch(queue));
  }

  dispatch(queue: string): void {
    const consumer = this.channels.find((c) => c.consumes(queue));
    const ready = this.queue(queue);
    while (consumer?.consumes(queue) && ready.length > 0) consumer.deliver(ready.shift()!);
  }

  consumerOf(queue: string): FakeChannel | undefined {
    return this.channels.find((c) => c.consumes(queue));
  }

  private queue(name: string): Pending[] {
    let queue = this.queues.get(name);
    if (!queue) this.queues.set(name, (queue = []));
    return queue;
  }
}

/** The parts of amqp-connection-manager's manager that `ChannelWrapper` and keyflow use. */
export class FakeConnectionManager extends EventEmitter {
  readonly connection = {
    createChannel: () => this.open(),
    createConfirmChannel: () => this.open(),
  };
  /** Read by the borrowed `createChannel`. */
  private readonly _channels: ChannelWrapper[] = [];

  constructor(readonly broker = new FakeBroker()) {
    super();
    this.setMaxListeners(0);
  }

  get manager(): AmqpConnectionManager {
    return this as unknown as AmqpConnectionManager;
  }

  isConnected(): boolean {
    return true;
  }

  createChannel(options: CreateChannelOpts = {}): ChannelWrapper {
    return AmqpConnectionManagerClass.prototype.createChannel.call(this.manager, options);
  }

  async close(): Promise<void> {
    await Promise.all([...this._channels].map((c) => c.close().catch(() => undefined)));
  }

  private async open(): Promise<FakeChannel> {
    await Promise.resolve();
    const channel = new FakeChannel(this.broker);
    this.broker.channels.push(channel);
    return channel;
  }
}

/** Errors that would end a Node process: an `error` event nobody listens to, a rejection nobody handles. */
export function watchProcessErrors(): { errors: unknown[]; stop: () => void } {
  const errors: unknown[] = [];
  const record = (err: unknown) => errors.push(err);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  return {
    errors,
    stop: () => {
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
    },
  };
}
