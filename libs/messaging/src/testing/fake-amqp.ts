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

  assertQueue(queue: string): Promise<{ queue: string; messageCount: number; consumerCount: number }> {
    return this.rpc('QueueDeclare', queue, { queue, messageCount: 0, consumerCount: 0 });
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
