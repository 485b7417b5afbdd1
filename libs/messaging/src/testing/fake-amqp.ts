import { EventEmitter } from 'node:events';
import {
  AmqpConnectionManagerClass,
  type AmqpConnectionManager,
  type ChannelWrapper,
  type CreateChannelOpts,
} from 'amqp-connection-manager';
import { IllegalOperationError, type ConsumeMessage, type Message } from 'amqplib';

/**
 * An in-process stand-in for a RabbitMQ connection, for unit tests of channel handling. The connection manager
 * is a fake, but the channels it hands out are amqp-connection-manager's real `ChannelWrapper`s, so what is
 * tested is how our code and the real wrapper behave. The amqplib channel below copies amqplib 2.x where it
 * matters here:
 * - an operation on a closed channel throws `IllegalOperationError: Channel closed`;
 * - the broker refusing an operation rejects it, emits `error` on the channel, then `close`;
 * - a channel `error` nobody listens to escalates to the connection, which drops with every channel on it
 *   (amqplib's frame loop catches the throw and closes the socket); the manager then reconnects.
 */

export interface Refusal {
  code: number;
  text: string;
}

export class FakeAmqpChannel extends EventEmitter {
  closed = false;
  readonly acked: Array<{ deliveryTag: number; allUpTo: boolean }> = [];
  readonly nacked: Array<{ deliveryTag: number; allUpTo: boolean; requeue: boolean }> = [];
  readonly published: Array<{ exchange: string; routingKey: string; content: Buffer }> = [];
  readonly consumers = new Map<string, (message: ConsumeMessage | null) => void>();
  private deliveryTag = 0;

  constructor(private readonly model: FakeChannelModel) {
    super();
  }

  assertExchange(exchange: string): Promise<{ exchange: string }> {
    return this.rpc('ExchangeDeclare', exchange, { exchange });
  }

  assertQueue(
    queue: string,
    options: { arguments?: Record<string, unknown> } = {},
  ): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    this.model.broker.declared.push({ queue, arguments: options.arguments ?? {} });
    return this.rpc('QueueDeclare', queue, { queue, messageCount: 0, consumerCount: 0 });
  }

  /** A passive declare: the broker compares no arguments, and refuses (404) a queue that does not exist. */
  checkQueue(queue: string): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    return this.rpc('QueueCheck', queue, { queue, messageCount: 0, consumerCount: 0 });
  }

  bindQueue(queue: string): Promise<Record<string, never>> {
    return this.rpc('QueueBind', queue, {});
  }

  prefetch(): Promise<Record<string, never>> {
    return this.rpc('BasicQos', '', {});
  }

  async consume(queue: string, onMessage: (message: ConsumeMessage | null) => void): Promise<{ consumerTag: string }> {
    const reply = await this.rpc('BasicConsume', queue, { consumerTag: `ctag-${queue}-${this.consumers.size}` });
    this.consumers.set(queue, onMessage);
    return reply;
  }

  publish(exchange: string, routingKey: string, content: Buffer, _options?: unknown, confirm?: (err: unknown) => void) {
    this.assertOpen();
    this.published.push({ exchange, routingKey, content });
    if (confirm) setImmediate(() => confirm(null));
    return true;
  }

  ack(message: Message, allUpTo = false): void {
    this.assertOpen();
    this.acked.push({ deliveryTag: message.fields.deliveryTag, allUpTo });
  }

  nack(message: Message, allUpTo = false, requeue = true): void {
    this.assertOpen();
    this.nacked.push({ deliveryTag: message.fields.deliveryTag, allUpTo, requeue });
  }

  async close(): Promise<void> {
    await Promise.resolve();
    this.assertOpen();
    this.toClosed();
  }

  /** Delivers a message to the consumer of `queue`, as the broker would on this channel. */
  deliver(queue: string, content: string, properties: Record<string, unknown> = {}): ConsumeMessage {
    const onMessage = this.consumers.get(queue);
    if (!onMessage || this.closed) throw new Error(`no consumer on ${queue}`);
    const message = {
      content: Buffer.from(content),
      fields: { deliveryTag: ++this.deliveryTag, redelivered: false, exchange: '', routingKey: queue, consumerTag: '' },
      properties: { headers: {}, ...properties },
    } as unknown as ConsumeMessage;
    onMessage(message);
    return message;
  }

  /** The broker closes this channel with an error (a refused declaration, an unknown delivery tag, …). */
  closeByBroker(refusal: Refusal): void {
    if (this.closed) return;
    const error = Object.assign(new Error(`Channel closed by server: ${refusal.code} (${refusal.text})`), {
      code: refusal.code,
    });
    if (this.listenerCount('error') === 0) {
      // amqplib: emitting an unhandled 'error' throws inside the frame loop, which closes the whole connection.
      this.model.fail(error);
      return;
    }
    this.emit('error', error);
    this.toClosed();
  }

  toClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }

  private async rpc<T>(method: string, target: string, reply: T): Promise<T> {
    this.assertOpen();
    await Promise.resolve();
    this.assertOpen();
    const refusal = this.model.broker.refuse?.(method, target);
    if (refusal) {
      const err = Object.assign(new Error(`Operation failed: ${method}; ${refusal.code} (${refusal.text})`), {
        code: refusal.code,
      });
      this.closeByBroker(refusal);
      throw err;
    }
    return reply;
  }

  private assertOpen(): void {
    if (this.closed) throw new IllegalOperationError('Channel closed');
  }
}

export class FakeChannelModel extends EventEmitter {
  readonly channels: FakeAmqpChannel[] = [];
  private closed = false;

  constructor(readonly broker: FakeAmqpBroker) {
    super();
  }

  createChannel(): Promise<FakeAmqpChannel> {
    return this.open();
  }

  createConfirmChannel(): Promise<FakeAmqpChannel> {
    return this.open();
  }

  /** The connection fails (socket error, broker gone): every channel closes, then the connection. */
  fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const channel of this.channels) channel.toClosed();
    this.emit('close', err);
  }

  close(): Promise<void> {
    this.fail(new Error('Connection closed: 200 (OK)'));
    return Promise.resolve();
  }

  private async open(): Promise<FakeAmqpChannel> {
    await Promise.resolve();
    if (this.closed) throw new IllegalOperationError('Connection closed');
    const channel = new FakeAmqpChannel(this);
    this.channels.push(channel);
    this.broker.channelsOpened.push(channel);
    return channel;
  }
}

/** What the broker does, and what it did. */
export class FakeAmqpBroker {
  /** Decides, per operation, whether the broker refuses it (and so closes the channel). */
  refuse?: (method: string, target: string) => Refusal | undefined;
  readonly channelsOpened: FakeAmqpChannel[] = [];
  /** Every active declaration, with its arguments, in order (refused ones too). */
  readonly declared: Array<{ queue: string; arguments: Record<string, unknown> }> = [];
  connectionsLost = 0;

  /** The most recently opened channel that is still open and consumes `queue`. */
  consumerOf(queue: string): FakeAmqpChannel | undefined {
    return this.channelsOpened.filter((c) => !c.closed && c.consumers.has(queue)).at(-1);
  }
}

/**
 * The parts of amqp-connection-manager's `AmqpConnectionManager` that `ChannelWrapper` and keyflow use, with
 * its contract: `connect` events carry the new connection, a lost connection emits `disconnect` and is
 * re-established after `reconnectDelayMs`, and `createChannel` builds a real `ChannelWrapper`.
 */
export class FakeAmqpConnectionManager extends EventEmitter {
  connection: FakeChannelModel | undefined;
  /** Read by the borrowed `createChannel`. */
  private readonly _channels: ChannelWrapper[] = [];
  private reconnectTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    readonly broker = new FakeAmqpBroker(),
    private readonly reconnectDelayMs = 20,
  ) {
    super();
    this.setMaxListeners(0); // as the real manager: every channel listens to it
  }

  /** Typed as the real manager, for the code under test. */
  get manager(): AmqpConnectionManager {
    return this as unknown as AmqpConnectionManager;
  }

  isConnected(): boolean {
    return this.connection !== undefined;
  }

  createChannel(options: CreateChannelOpts = {}): ChannelWrapper {
    return AmqpConnectionManagerClass.prototype.createChannel.call(this.manager, options);
  }

  connect(): void {
    if (this.stopped || this.connection) return;
    const connection = new FakeChannelModel(this.broker);
    connection.on('close', (err: Error) => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.broker.connectionsLost += 1;
      this.emit('disconnect', { err });
      if (!this.stopped) this.reconnectTimer = setTimeout(() => this.connect(), this.reconnectDelayMs);
    });
    this.connection = connection;
    this.emit('connect', { connection, url: 'amqp://fake' });
  }

  reconnect(): void {
    this.connection?.fail(new Error('forced reconnect'));
  }

  close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    for (const channel of [...this._channels]) void channel.close();
    return this.connection?.close() ?? Promise.resolve();
  }
}

interface StoredMessage {
  content: Buffer;
  properties: Record<string, unknown>;
}

interface ServerQueue {
  arguments: Record<string, unknown>;
  ready: StoredMessage[];
  /** Registration order; with single-active-consumer only the first receives. */
  consumers: Array<{ tag: string; channel?: FakeServerChannel; onMessage: (message: ConsumeMessage) => void }>;
}

/**
 * A broker that holds messages, for tests of what moves them (`migrateShardQueues`): queues with arguments that a
 * re-declaration must match (406 otherwise), a passive declare that refuses a missing queue (404), delivery to the
 * first consumer only (single-active-consumer, as on the shard queues), and the unacked deliveries of a channel
 * returned to the front of their queue when it closes. Stands in for an amqplib `ChannelModel`.
 */
export class FakeQueueServer {
  readonly queues = new Map<string, ServerQueue>();
  /** What a passive declare reports as ready, when set: a quorum queue whose leader is slow to answer reports 0. */
  reportReady?: (queue: string) => number | undefined;

  /** A queue as an older release left it, with messages (JSON bodies) in it. */
  declare(queue: string, args: Record<string, unknown>, bodies: unknown[] = []): void {
    this.queues.set(queue, {
      arguments: args,
      ready: bodies.map((b) => ({ content: Buffer.from(JSON.stringify(b)), properties: { headers: {} } })),
      consumers: [],
    });
  }

  /** A consumer that is not ours (a running worker): registered first, it takes (and acks) what is delivered. */
  consumeElsewhere(queue: string, taken: StoredMessage[] = []): StoredMessage[] {
    this.queues.get(queue)?.consumers.push({
      tag: `elsewhere-${queue}`,
      onMessage: (m) =>
        taken.push({ content: m.content, properties: m.properties as unknown as Record<string, unknown> }),
    });
    return taken;
  }

  /** The bodies ready in a queue, as text. */
  bodies(queue: string): string[] {
    return (this.queues.get(queue)?.ready ?? []).map((m) => m.content.toString());
  }

  createConfirmChannel(): Promise<FakeServerChannel> {
    return Promise.resolve(new FakeServerChannel(this));
  }

  dispatch(name: string): void {
    const queue = this.queues.get(name);
    const active = queue?.consumers[0];
    if (!queue || !active) return;
    while (queue.ready.length > 0 && (active.channel?.hasRoom() ?? true)) {
      const stored = queue.ready.shift() as StoredMessage;
      if (active.channel) active.channel.deliver(name, stored, active.onMessage);
      else active.onMessage({ content: stored.content, properties: stored.properties } as unknown as ConsumeMessage);
    }
  }
}

export class FakeServerChannel extends EventEmitter {
  closed = false;
  private prefetchCount = 0;
  private deliveryTag = 0;
  private readonly unacked = new Map<number, { queue: string; stored: StoredMessage }>();

  constructor(private readonly server: FakeQueueServer) {
    super();
  }

  async assertQueue(queue: string, options: { arguments?: Record<string, unknown> } = {}) {
    await this.rpc();
    const args = options.arguments ?? {};
    const existing = this.server.queues.get(queue);
    if (!existing) {
      this.server.queues.set(queue, { arguments: args, ready: [], consumers: [] });
      return { queue, messageCount: 0, consumerCount: 0 };
    }
    for (const key of new Set([...Object.keys(existing.arguments), ...Object.keys(args)])) {
      if (existing.arguments[key] !== args[key]) {
        this.refuse(
          406,
          `PRECONDITION_FAILED - inequivalent arg '${key}' for queue '${queue}' in vhost '/': received ${JSON.stringify(
            args[key] ?? 'none',
          )} but current is ${JSON.stringify(existing.arguments[key] ?? 'none')}`,
        );
      }
    }
    return { queue, messageCount: existing.ready.length, consumerCount: existing.consumers.length };
  }

  async checkQueue(queue: string) {
    await this.rpc();
    const existing = this.server.queues.get(queue);
    if (!existing) this.refuse(404, `NOT_FOUND - no queue '${queue}' in vhost '/'`);
    return {
      queue,
      messageCount: this.server.reportReady?.(queue) ?? existing.ready.length,
      consumerCount: existing.consumers.length,
    };
  }

  async deleteQueue(queue: string) {
    await this.rpc();
    const messageCount = this.server.queues.get(queue)?.ready.length ?? 0;
    this.server.queues.delete(queue);
    return { messageCount };
  }

  async prefetch(count: number) {
    await this.rpc();
    this.prefetchCount = count;
  }

  async consume(queue: string, onMessage: (message: ConsumeMessage) => void) {
    await this.rpc();
    const tag = `ctag-${Math.random().toString(36).slice(2)}`;
    this.server.queues.get(queue)?.consumers.push({ tag, channel: this, onMessage });
    setImmediate(() => this.server.dispatch(queue));
    return { consumerTag: tag };
  }

  async cancel(tag: string) {
    await this.rpc();
    for (const queue of this.server.queues.values()) queue.consumers = queue.consumers.filter((c) => c.tag !== tag);
    return { consumerTag: tag };
  }

  sendToQueue(queue: string, content: Buffer, options: { headers?: Record<string, unknown> } = {}): boolean {
    this.assertOpen();
    this.server.queues.get(queue)?.ready.push({ content, properties: { headers: options.headers ?? {} } });
    setImmediate(() => this.server.dispatch(queue));
    return true;
  }

  async waitForConfirms(): Promise<void> {
    await this.rpc();
  }

  ack(message: Message): void {
    this.assertOpen();
    this.unacked.delete(message.fields.deliveryTag);
  }

  async close(): Promise<void> {
    this.assertOpen();
    this.toClosed();
    await Promise.resolve();
  }

  hasRoom(): boolean {
    return !this.closed && (this.prefetchCount === 0 || this.unacked.size < this.prefetchCount);
  }

  deliver(queue: string, stored: StoredMessage, onMessage: (message: ConsumeMessage) => void): void {
    const deliveryTag = ++this.deliveryTag;
    this.unacked.set(deliveryTag, { queue, stored });
    onMessage({
      content: stored.content,
      fields: { deliveryTag, redelivered: false, exchange: '', routingKey: queue, consumerTag: '' },
      properties: stored.properties,
    } as unknown as ConsumeMessage);
  }

  private toClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const queue of this.server.queues.values())
      queue.consumers = queue.consumers.filter((c) => c.channel !== this);
    for (const { queue, stored } of [...this.unacked.values()].reverse())
      this.server.queues.get(queue)?.ready.unshift(stored);
    this.unacked.clear();
    this.emit('close');
  }

  private refuse(code: number, text: string): never {
    const err = Object.assign(new Error(`Operation failed: QueueDeclare; ${code} (${text})`), {
      code,
    });
    if (this.listenerCount('error') === 0)
      throw new Error(`unhandled channel error (amqplib drops the connection): ${text}`);
    this.emit('error', err);
    this.toClosed();
    throw err;
  }

  private async rpc(): Promise<void> {
    this.assertOpen();
    await Promise.resolve();
    this.assertOpen();
  }

  private assertOpen(): void {
    if (this.closed) throw new IllegalOperationError('Channel closed');
  }
}
