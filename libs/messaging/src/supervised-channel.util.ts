import type { AmqpConnectionManager, ChannelWrapper, Options } from 'amqp-connection-manager';
import type { Channel } from 'amqplib';
import type { ConnectionLogger } from './amqp-connection.util';

export interface SupervisedChannelOptions {
  /** Names the channel in log lines. */
  name: string;
  /** A confirm channel, whose publishes resolve on the broker's ack. Default true, as amqp-connection-manager. */
  confirm?: boolean;
  /** A publish not sent (and, on a confirm channel, not confirmed) within this many ms rejects. */
  publishTimeout?: number;
  /**
   * Declares what the channel needs and starts its consumers. Runs once on every new channel: after a
   * reconnect, and after a failed setup or a broker-closed channel, on the fresh channel that replaces it.
   * It may fail; see `SupervisedChannel`.
   */
  setup?: (channel: Channel) => Promise<void>;
  logger: ConnectionLogger;
  /** Delay before the n-th consecutive attempt (from 1) to re-open a failed channel. */
  retryDelayMs?: (attempt: number) => number;
}

/** 0.5 s, doubling up to 5 s: a quorum queue without a leader gets one within seconds. */
export function channelRetryDelay(attempt: number): number {
  return Math.min(500 * 2 ** (attempt - 1), 5_000);
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * An amqp-connection-manager channel that re-opens itself, and whose failures never end the process.
 *
 * amqp-connection-manager 5 opens a new channel (and re-runs its setup) only when the whole connection
 * reconnects. A setup the broker refuses, or a channel the broker closes, leaves the `ChannelWrapper` without
 * a channel until then (jwalton/node-amqp-connection-manager#347), and the failure is reported as an `error`
 * event on the wrapper, an EventEmitter: with no listener, that event ends the process. amqplib adds a second
 * trap: an `error` on a channel that nobody listens to is escalated to the connection, which drops every
 * other channel of the process with it.
 *
 * Contract:
 * - a setup that fails (the broker refuses a declaration: 406 inequivalent arguments, 405 an exclusive queue
 *   still held by the previous connection, a quorum queue without a leader; or the setup throws) and a channel
 *   the broker closes later are logged, and the channel is re-opened with its setup after `retryDelayMs`,
 *   for as long as the connection is up; other channels are not affected;
 * - a lost connection is left to the connection manager, which reconnects and re-runs the setup;
 * - re-opening replaces the `ChannelWrapper`; `publish` sends what was still pending on the old one again
 *   on the new one. Deliveries of a closed channel can no longer be acked, and the broker redelivers them
 *   (see `settleDelivery`).
 */
export class SupervisedChannel {
  private wrapper: ChannelWrapper;
  /** The amqplib channel of the newest setup, while it is open. */
  private channel?: Channel;
  private state: 'opening' | 'ready' | 'failed' = 'opening';
  private lastFailure = '';
  /** Consecutive failed attempts; 0 once a setup completes. */
  private failures = 0;
  /** Whether a failure was logged since the last successful setup, so that the recovery is logged too. */
  private reported = false;
  /** Why `reopen` closed the channel. */
  private closingReason?: string;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly connection: AmqpConnectionManager,
    private readonly options: SupervisedChannelOptions,
  ) {
    this.wrapper = this.open();
    connection.on('connect', this.onConnect);
  }

  /** True while the channel is open and its setup has completed. */
  get ready(): boolean {
    return this.state === 'ready';
  }

  /**
   * Publishes through amqp-connection-manager: queued while there is no channel, then sent. If the channel
   * is replaced before the publish went through (or, on a confirm channel, was confirmed), the message is
   * sent again on the new one, as amqp-connection-manager does after a reconnect, within the same timeout.
   */
  async publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish = {},
  ): Promise<boolean> {
    const timeoutMs = options.timeout ?? this.options.publishTimeout;
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    let attempt = options;
    for (;;) {
      const wrapper = this.wrapper;
      try {
        return await wrapper.publish(exchange, routingKey, content, attempt);
      } catch (err) {
        const remaining = deadline === undefined ? undefined : deadline - Date.now();
        if (wrapper === this.wrapper || this.closed || (remaining !== undefined && remaining <= 0)) throw err;
        attempt = { ...options, timeout: remaining };
      }
    }
  }

  /**
   * Asks the broker about a queue (ready messages and consumers) on the current channel; rejects while there is
   * no open, set-up channel. A queue that does not exist makes the broker close the channel (404 NOT_FOUND): that
   * is re-opened like any broker-closed channel, and the connection and its other channels are not affected.
   */
  async checkQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }> {
    const channel = this.channel;
    if (!channel || this.state !== 'ready') throw new Error(`channel ${this.options.name} is not open`);
    const { messageCount, consumerCount } = await channel.checkQueue(queue);
    return { messageCount, consumerCount };
  }

  /** Resolves once the channel is open and its setup completed, or once `close` was called. */
  waitForConnect(): Promise<void> {
    if (this.ready || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Closes the channel so that a fresh one replaces it, for a fault the broker signals without closing the
   * channel (it cancelled a consumer, say). Deliveries not yet settled go back to their queue.
   */
  reopen(reason: string): void {
    const channel = this.channel;
    if (!channel || this.closed) return;
    this.closingReason = reason;
    channel.close().catch(() => undefined);
  }

  /** Closes the channel for good; queued publishes reject. Never throws. */
  async close(): Promise<void> {
    this.closed = true;
    this.connection.removeListener('connect', this.onConnect);
    clearTimeout(this.retryTimer);
    this.release();
    await this.wrapper.close().catch(() => undefined);
  }

  private open(): ChannelWrapper {
    const wrapper: ChannelWrapper = this.connection.createChannel({
      name: this.options.name,
      confirm: this.options.confirm ?? true,
      publishTimeout: this.options.publishTimeout,
      setup: (channel: Channel) => this.setUp(wrapper, channel),
    });
    // The wrapper emits `error` when it cannot open a channel or its publishing loop fails (setups here
    // never throw). Without this listener that is an unhandled `error` event, which ends the process.
    wrapper.on('error', (err: unknown) => {
      if (wrapper !== this.wrapper) return;
      if (!this.channel) {
        this.fail(`cannot open a channel: ${describeError(err)}`);
      } else {
        this.options.logger.warn(`channel ${this.options.name}: ${describeError(err)}`);
        this.reported = true;
      }
    });
    return wrapper;
  }

  private async setUp(wrapper: ChannelWrapper, channel: Channel): Promise<void> {
    if (wrapper !== this.wrapper || this.closed) {
      // Opened for a wrapper that was replaced or closed meanwhile: nobody else would close it.
      await channel.close().catch(() => undefined);
      return;
    }
    this.channel = channel;
    this.state = 'opening';
    let closeReason = 'the channel closed';
    // Keeps a channel-level error on this channel: amqplib escalates an unheard one to the connection.
    // The reason is logged when the channel is re-opened (or not, if the connection is gone too).
    channel.on('error', (err: unknown) => {
      closeReason = `the broker closed the channel: ${describeError(err)}`;
    });
    channel.once('close', () => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      // After a failed setup, its reason says more than the close that follows it.
      this.fail(this.state === 'failed' ? this.lastFailure : (this.closingReason ?? closeReason));
      this.closingReason = undefined;
    });
    try {
      await this.options.setup?.(channel);
    } catch (err) {
      // IllegalOperationError: the channel closed under the setup, and its `close` handler took over.
      if (!(err instanceof Error && err.name === 'IllegalOperationError'))
        this.fail(`setup failed: ${describeError(err)}`);
      // A setup that failed on an open channel left it half set up: start again from a fresh channel.
      if (this.channel === channel) await channel.close().catch(() => undefined);
      return;
    }
    if (this.channel !== channel || this.closed) return;
    this.state = 'ready';
    if (this.reported) this.options.logger.log(`channel ${this.options.name}: open and set up again`);
    this.failures = 0;
    this.reported = false;
    this.release();
  }

  private fail(reason: string): void {
    if (this.closed) return;
    this.lastFailure = reason;
    if (this.state !== 'failed') {
      this.state = 'failed';
      this.failures += 1;
    }
    if (this.retryTimer) return;
    const delay = (this.options.retryDelayMs ?? channelRetryDelay)(this.failures);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.recover();
    }, delay);
  }

  private recover(): void {
    if (this.closed || this.state !== 'failed') return;
    // A lost connection is the connection manager's to restore: it reconnects and re-runs the setup.
    if (!this.connection.isConnected()) return;
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.options.logger.warn(
        `channel ${this.options.name}: ${this.lastFailure}; re-opening it (attempt ${this.failures})`,
      );
      this.reported = true;
    }
    const previous = this.wrapper;
    // A failed setup's channel may still be closing: its late `close` must not count against the new one.
    this.channel = undefined;
    this.state = 'opening';
    this.wrapper = this.open();
    void previous.close().catch(() => undefined);
  }

  /** The connection manager reconnected: the current wrapper is opening a channel for its setup. */
  private readonly onConnect = (): void => {
    if (this.state === 'failed') this.state = 'opening';
  };

  private release(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
