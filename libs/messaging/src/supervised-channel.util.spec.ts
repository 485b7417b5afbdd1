import type { Channel } from 'amqplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pollUntil } from '@keyflow/testing';
import { settleDelivery } from './settle-delivery.util';
import { SupervisedChannel, type SupervisedChannelOptions } from './supervised-channel.util';
import { FakeAmqpConnectionManager, type FakeAmqpChannel } from './testing/fake-amqp';
import { watchProcessErrors } from '@keyflow/testing';

function until(condition: () => boolean, what: string): Promise<boolean> {
  return pollUntil(() => Promise.resolve(condition()), Boolean, { what, timeoutMs: 3_000, intervalMs: 5 });
}

const PRECONDITION_FAILED = { code: 406, text: "PRECONDITION_FAILED - inequivalent arg 'x-queue-type'" };

describe(SupervisedChannel.name, () => {
  let amqp: FakeAmqpConnectionManager;
  let watch: ReturnType<typeof watchProcessErrors>;
  let lines: string[];
  let setups: number;
  let supervised: SupervisedChannel | undefined;

  const options = (overrides: Partial<SupervisedChannelOptions> = {}): SupervisedChannelOptions => ({
    name: 'test',
    confirm: false,
    logger: { log: (m) => lines.push(m), warn: (m) => lines.push(m) },
    retryDelayMs: () => 10,
    setup: async (channel: Channel) => {
      setups += 1;
      await channel.assertQueue('q');
      await channel.consume('q', () => undefined);
    },
    ...overrides,
  });
  const open = (overrides?: Partial<SupervisedChannelOptions>) =>
    (supervised = new SupervisedChannel(amqp.manager, options(overrides)));
  const consumerOfQ = (): FakeAmqpChannel | undefined => amqp.broker.consumerOf('q');

  beforeEach(() => {
    lines = [];
    setups = 0;
    watch = watchProcessErrors();
    amqp = new FakeAmqpConnectionManager();
    amqp.connect();
  });

  afterEach(async () => {
    await supervised?.close();
    supervised = undefined;
    await amqp.close();
    watch.stop();
  });

  describe('setup', () => {
    it('should log a setup the broker refuses and retry it on a new channel, without ending the process', async () => {
      let refusals = 3;
      amqp.broker.refuse = (method) => (method === 'QueueDeclare' && refusals-- > 0 ? PRECONDITION_FAILED : undefined);

      const channel = open();
      await channel.waitForConnect();

      expect(watch.errors).toEqual([]);
      expect(channel.ready).toBe(true);
      expect(setups).toBe(4);
      expect(consumerOfQ()).toBeDefined();
      // The refusal stayed on its channel: the connection, and every other channel on it, lived on.
      expect(amqp.broker.connectionsLost).toBe(0);
      expect(lines).toEqual([
        "channel test: setup failed: Operation failed: QueueDeclare; 406 (PRECONDITION_FAILED - inequivalent arg 'x-queue-type'); re-opening it (attempt 1)",
        'channel test: open and set up again',
      ]);
    });

    it('should retry a setup that throws on an open channel, from a fresh channel', async () => {
      let throws = 1;
      const channel = open({
        setup: async (ch: Channel) => {
          setups += 1;
          await ch.assertQueue('q');
          if (throws-- > 0) throw new TypeError('cannot read properties of undefined');
          await ch.consume('q', () => undefined);
        },
      });
      await channel.waitForConnect();

      expect(watch.errors).toEqual([]);
      expect(setups).toBe(2);
      expect(amqp.broker.channelsOpened.map((c) => c.closed)).toEqual([true, false]);
      expect(lines).toEqual([
        'channel test: setup failed: cannot read properties of undefined; re-opening it (attempt 1)',
        'channel test: open and set up again',
      ]);
    });

    it('should keep retrying a setup the broker always refuses, and stop once closed', async () => {
      amqp.broker.refuse = () => PRECONDITION_FAILED;
      const channel = open();
      await until(() => setups >= 12, 'a dozen attempts');
      await channel.close();
      const attempts = setups;
      await new Promise((resolve) => setTimeout(resolve, 50));

      expect(watch.errors).toEqual([]);
      expect(channel.ready).toBe(false);
      expect(setups).toBe(attempts);
      // Attempt 1 and every tenth are logged, not each one.
      expect(lines.filter((l) => l.includes('setup failed'))).toHaveLength(2);
    });
  });

  describe('close by the broker', () => {
    it('should re-open a channel the broker closes while the connection stays up', async () => {
      const channel = open();
      await channel.waitForConnect();
      const first = consumerOfQ();

      first?.closeByBroker({ code: 406, text: 'PRECONDITION_FAILED - unknown delivery tag 42' });
      await until(() => setups === 2 && channel.ready, 'the channel to be re-opened');

      expect(watch.errors).toEqual([]);
      expect(consumerOfQ()).not.toBe(first);
      expect(amqp.broker.connectionsLost).toBe(0);
      expect(lines).toEqual([
        'channel test: the broker closed the channel: Channel closed by server: 406 (PRECONDITION_FAILED - unknown delivery tag 42); re-opening it (attempt 1)',
        'channel test: open and set up again',
      ]);
    });

    it('should re-open the channel when asked to, for a consumer the broker cancelled', async () => {
      const channel = open();
      await channel.waitForConnect();

      channel.reopen('the broker cancelled the consumer');
      await until(() => setups === 2 && channel.ready, 'the channel to be re-opened');

      expect(lines).toEqual([
        'channel test: the broker cancelled the consumer; re-opening it (attempt 1)',
        'channel test: open and set up again',
      ]);
    });

    it('should leave a lost connection to the connection manager, which re-runs the setup once', async () => {
      const channel = open({ retryDelayMs: () => 1 });
      await channel.waitForConnect();

      amqp.reconnect();
      await until(() => setups === 2 && channel.ready, 'the setup to run on the new connection');
      await new Promise((resolve) => setTimeout(resolve, 30));

      expect(watch.errors).toEqual([]);
      expect(setups).toBe(2);
      expect(amqp.broker.channelsOpened.filter((c) => !c.closed)).toHaveLength(1);
      expect(lines).toEqual([]);
    });
  });

  describe('checkQueue', () => {
    it('should answer for a queue, and survive a missing one: only its channel closes, and is re-opened', async () => {
      amqp.broker.refuse = (method, queue) =>
        method === 'QueueCheck' && queue === 'gone' ? { code: 404, text: "NOT_FOUND - no queue 'gone'" } : undefined;
      const channel = open({ setup: () => Promise.resolve(void (setups += 1)) });
      await channel.waitForConnect();

      expect(await channel.checkQueue('q')).toEqual({ messageCount: 0, consumerCount: 0 });
      await expect(channel.checkQueue('gone')).rejects.toThrow("404 (NOT_FOUND - no queue 'gone')");
      await until(() => setups === 2 && channel.ready, 'the channel to be re-opened');

      expect(watch.errors).toEqual([]);
      expect(amqp.broker.connectionsLost).toBe(0);
      expect(await channel.checkQueue('q')).toEqual({ messageCount: 0, consumerCount: 0 });
    });

    it('should reject, not wait, while the channel is not open', async () => {
      amqp.broker.refuse = () => PRECONDITION_FAILED;
      const channel = open();
      await expect(channel.checkQueue('q')).rejects.toThrow('channel test is not open');
      expect(watch.errors).toEqual([]);
    });
  });

  describe('publish', () => {
    it('should publish on the re-opened channel after a refused setup', async () => {
      let refusals = 1;
      amqp.broker.refuse = (method) => (method === 'QueueDeclare' && refusals-- > 0 ? PRECONDITION_FAILED : undefined);
      const channel = open({ confirm: true, publishTimeout: 1_000 });

      await channel.publish('', 'q', Buffer.from('hello'));

      expect(watch.errors).toEqual([]);
      expect(amqp.broker.channelsOpened.flatMap((c) => c.published.map((p) => p.content.toString()))).toEqual([
        'hello',
      ]);
    });
  });
});

describe(settleDelivery.name, () => {
  let amqp: FakeAmqpConnectionManager;
  let lines: string[];
  const logger = { warn: (m: string) => lines.push(m) };

  beforeEach(() => {
    lines = [];
    amqp = new FakeAmqpConnectionManager();
    amqp.connect();
  });

  afterEach(() => amqp.close());

  async function consumingChannel(): Promise<FakeAmqpChannel> {
    const channel = await amqp.connection!.createChannel();
    await channel.consume('q', () => undefined);
    return channel;
  }

  it('should ack, requeue and dead-letter on an open channel', async () => {
    const channel = await consumingChannel();
    const [a, b, c] = [channel.deliver('q', 'a'), channel.deliver('q', 'b'), channel.deliver('q', 'c')];

    expect(settleDelivery(channel as unknown as Channel, a, 'ack', logger)).toBe(true);
    expect(settleDelivery(channel as unknown as Channel, b, 'requeue', logger)).toBe(true);
    expect(settleDelivery(channel as unknown as Channel, c, 'dead-letter', logger)).toBe(true);

    expect(channel.acked).toEqual([{ deliveryTag: 1, allUpTo: false }]);
    expect(channel.nacked).toEqual([
      { deliveryTag: 2, allUpTo: false, requeue: true },
      { deliveryTag: 3, allUpTo: false, requeue: false },
    ]);
    expect(lines).toEqual([]);
  });

  it('should log and return false, not throw, when the channel closed under a pending ack or nack', async () => {
    const channel = await consumingChannel();
    const [a, b] = [channel.deliver('q', 'a'), channel.deliver('q', 'b')];
    amqp.reconnect();

    expect(settleDelivery(channel as unknown as Channel, a, 'ack-up-to', logger)).toBe(false);
    expect(settleDelivery(channel as unknown as Channel, b, 'dead-letter', logger)).toBe(false);

    expect(lines).toEqual([
      'could not ack-up-to delivery 1; the broker will redeliver it: Channel closed',
      'could not dead-letter delivery 2; the broker will redeliver it: Channel closed',
    ]);
  });
});
