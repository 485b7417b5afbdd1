import { EventEmitter } from 'node:events';
import {
  AmqpConnectionManagerClass,
  type AmqpConnectionManager,
  type ChannelWrapper,
  type CreateChannelOpts,
} from 'amqp-connection-manager';
import { IllegalOperationError, type ConsumeMessage, type Message } from 'amqplib';

/**
 * An in-process broker for the worker's unit tests: queues with the redelivery rules that matter here, as RabbitMQ
 * 3.x quorum queues have them (the unsettled deliveries of a channel that closes go back to the front of their queue
 * and are delivered to the next consumer; every such return counts as a delivery, shown as `x-delivery-count`, and
 * once a queue declared with `x-delivery-limit` has returned a message more often than that, it is dead-lettered),
 * behind a fake connection manager that hands out amqp-connection-manager's real `ChannelWrapper`s. A queue keeps
 * the arguments it was first declared with and refuses a declaration with others (406). The channel copies amqplib
 * 2.x: settling on a closing or closed channel throws `IllegalOperationError`, and a refused declaration rejects,
 * emits `error`, then `close`. (`libs/messaging/src/testing/fake-amqp.ts` is its sibling for the lib's own tests.)
 */

interface Pending {
  queue: string;
  content: Buffer;
  properties: Record<string, unknown>;
  /** Times it went back to its queue unsettled (the broker's delivery count). */
  returns?: number;
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

  async assertQueue(queue: string, options: { arguments?: Record<string, unknown> } = {}): Promise<{ queue: string }> {
    await this.rpc();
    const refusal = this.broker.refuse?.(queue) ?? this.broker.declare(queue, options.arguments ?? {});
    if (refusal) {
      const err = Object.assign(new Error(`Operation failed: QueueDeclare; ${refusal}`), { code: 406 });
      this.closeByBroker(`Channel closed by server: ${refusal}`);
      throw err;
    }
    return { queue };
  }

  /** A passive declare: no arguments compared; a queue that does not exist closes the channel (404). */
  async checkQueue(queue: string): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    await this.rpc();
    if (!this.broker.exists(queue)) {
      const refusal = `404 (NOT_FOUND - no queue '${queue}' in vhost '/')`;
      const err = Object.assign(new Error(`Operation failed: QueueDeclare; ${refusal}`), { code: 404 });
      this.closeByBroker(`Channel closed by server: ${refusal}`);
      throw err;
    }
    return { queue, messageCount: this.broker.ready(queue), consumerCount: this.broker.consumerOf(queue) ? 1 : 0 };
  }

  async assertExchange(exchange: string): Promise<{ exchange: string }> {
    await this.rpc();
    return { exchange };
  }

  async bindQueue(): Promise<Record<string, never>> {
    await this.rpc();
    return {};
  }

  /** Unacked deliveries the broker allows this channel (0: no limit). */
  private prefetchCount = 0;

  async prefetch(count: number): Promise<Record<string, never>> {
    await this.rpc();
    this.prefetchCount = count;
    return {};
  }

  /** Whether the prefetch window has room for another delivery. */
  hasRoom(): boolean {
    return this.prefetchCount === 0 || this.unacked.size < this.prefetchCount;
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
    const headers = { ...(pending.properties.headers as Record<string, unknown> | undefined) };
    if (pending.returns) headers['x-delivery-count'] = pending.returns;
    const message = {
      content: pending.content,
      fields: { deliveryTag, redelivered: !!pending.returns, exchange: '', routingKey: pending.queue, consumerTag: '' },
      properties: { ...pending.properties, headers },
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
    this.refill();
  }

  /** Settling made room in the prefetch window: the broker delivers more. */
  private refill(): void {
    const queue = this.consumer?.queue;
    if (queue) setImmediate(() => this.broker.dispatch(queue));
  }

  nack(message: Message, _allUpTo = false, requeue = true): void {
    this.assertOpen();
    const pending = this.unacked.get(message.fields.deliveryTag);
    this.unacked.delete(message.fields.deliveryTag);
    if (pending && requeue) this.broker.requeue([pending]);
    else if (pending) this.broker.deadLettered.push({ ...pending, reason: 'rejected' });
    this.refill();
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
    if (this.listenerCount('error') === 0) {
      // amqplib: an `error` nobody listens to throws in the frame loop, which closes the whole connection.
      this.broker.dropConnection();
      return;
    }
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
  /** What left the queues for the dead-letter exchange, and why (`rejected` by a consumer, `delivery_limit`). */
  readonly deadLettered: Array<Pending & { reason: 'rejected' | 'delivery_limit' }> = [];
  private readonly queues = new Map<string, Pending[]>();
  private readonly declared = new Map<string, Record<string, unknown>>();

  /** Connections lost to a channel error nobody listened to. */
  connectionsLost = 0;

  /** The connection drops: every channel on it closes, returning its unsettled deliveries. */
  dropConnection(): void {
    this.connectionsLost += 1;
    for (const channel of this.channels) channel.toClosed();
  }

  /** Declares a queue, as an older release may have: returns the refusal if it exists with other arguments. */
  declare(queue: string, args: Record<string, unknown>): string | undefined {
    const existing = this.declared.get(queue);
    if (!existing) {
      this.declared.set(queue, args);
      return undefined;
    }
    for (const key of new Set([...Object.keys(existing), ...Object.keys(args)])) {
      if (existing[key] !== args[key]) {
        return `406 (PRECONDITION_FAILED - inequivalent arg '${key}' for queue '${queue}' in vhost '/': received ${JSON.stringify(args[key] ?? 'none')} but current is ${JSON.stringify(existing[key] ?? 'none')})`;
      }
    }
    return undefined;
  }

  exists(queue: string): boolean {
    return this.declared.has(queue) || this.queues.has(queue);
  }

  ready(queue: string): number {
    return this.queue(queue).length;
  }

  publish(queue: string, body: unknown, properties: Record<string, unknown> = {}): void {
    this.publishRaw(queue, JSON.stringify(body), properties);
  }

  /** Publishes a body as it is: JSON that `JSON.stringify` would never write, say. */
  publishRaw(queue: string, text: string, properties: Record<string, unknown> = {}): void {
    this.queue(queue).push({ queue, content: Buffer.from(text), properties });
    setImmediate(() => this.dispatch(queue));
  }

  /** Unsettled deliveries back to the front of their queues, each counted; past the queue's limit, dead-lettered. */
  requeue(returned: Pending[]): void {
    for (const pending of [...returned].reverse()) {
      const counted = { ...pending, returns: (pending.returns ?? 0) + 1 };
      const limit = this.declared.get(pending.queue)?.['x-delivery-limit'];
      if (typeof limit === 'number' && counted.returns > limit) {
        this.deadLettered.unshift({ ...counted, reason: 'delivery_limit' });
      } else {
        this.queue(pending.queue).unshift(counted);
      }
    }
    for (const queue of new Set(returned.map((p) => p.queue))) setImmediate(() => this.dispatch(queue));
  }

  dispatch(queue: string): void {
    const consumer = this.channels.find((c) => c.consumes(queue));
    const ready = this.queue(queue);
    while (consumer?.consumes(queue) && consumer.hasRoom() && ready.length > 0) consumer.deliver(ready.shift()!);
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
