import type { ChannelModel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { migrateShardQueues, type ShardQueueMigrationOptions } from './shard-queue-migration.util';
import { FakeQueueServer } from './testing/fake-amqp';
import { LEGACY_DELIVERY_LIMIT, MIGRATION_SENTINEL_HEADER, shardQueueArguments } from './write-queues.constant';

const current = shardQueueArguments({ shards: 2 });
const legacy = { ...current, 'x-delivery-limit': LEGACY_DELIVERY_LIMIT };

function migrate(server: FakeQueueServer, overrides: Partial<ShardQueueMigrationOptions> = {}) {
  const lines: string[] = [];
  const run = migrateShardQueues(server as unknown as ChannelModel, {
    shards: 2,
    log: (line) => lines.push(line),
    probeTimeoutMs: 200,
    ...overrides,
  });
  return { run, lines };
}

describe(migrateShardQueues.name, () => {
  it('should re-create an empty legacy shard queue without x-delivery-limit, and declare a missing one', async () => {
    const server = new FakeQueueServer();
    server.declare('kv.shard.0', legacy);

    const { run, lines } = migrate(server);

    expect(await run).toEqual([
      { queue: 'kv.shard.0', outcome: 'recreated' },
      { queue: 'kv.shard.1', outcome: 'current' },
    ]);
    expect(server.queues.get('kv.shard.0')?.arguments).toEqual(current);
    expect(server.queues.get('kv.shard.1')?.arguments).toEqual(current);
    expect(server.bodies('kv.shard.0')).toEqual([]);
    expect(lines).toEqual(['kv.shard.0: re-created without x-delivery-limit']);
  });

  it('should leave current queues alone on a second run', async () => {
    const server = new FakeQueueServer();
    server.declare('kv.shard.0', legacy);
    await migrate(server).run;

    expect(await migrate(server).run).toEqual([
      { queue: 'kv.shard.0', outcome: 'current' },
      { queue: 'kv.shard.1', outcome: 'current' },
    ]);
  });

  it('should keep a legacy queue that still holds writes, untouched, for a later run', async () => {
    const server = new FakeQueueServer();
    server.declare('kv.shard.0', legacy, ['w1', 'w2']);

    const { run, lines } = migrate(server);

    expect((await run)[0]).toEqual({
      queue: 'kv.shard.0',
      outcome: 'kept',
      reason: '2 write(s) queued: let the workers apply them first',
    });
    expect(server.queues.get('kv.shard.0')?.arguments).toEqual(legacy);
    expect(server.bodies('kv.shard.0')).toEqual(['"w1"', '"w2"']);
    expect(lines).toEqual([
      'kv.shard.0: kept as it is (x-delivery-limit still set): 2 write(s) queued: let the workers apply them first',
    ]);
  });

  it('should keep a legacy queue a worker consumes', async () => {
    const server = new FakeQueueServer();
    server.declare('kv.shard.0', legacy);
    server.consumeElsewhere('kv.shard.0');

    expect((await migrate(server).run)[0]).toEqual({
      queue: 'kv.shard.0',
      outcome: 'kept',
      reason: '1 consumer(s): stop the workers',
    });
    expect(server.queues.get('kv.shard.0')?.arguments).toEqual(legacy);
  });

  it('should not trust a report of no ready messages: a write that comes back before the probe keeps the queue', async () => {
    const server = new FakeQueueServer();
    server.declare('kv.shard.0', legacy, ['w1']);
    // A quorum queue whose leader does not answer in time reports 0 ready messages.
    server.reportReady = () => 0;

    const result = (await migrate(server).run)[0];

    expect(result).toEqual({
      queue: 'kv.shard.0',
      outcome: 'kept',
      reason: 'not provably empty and unused (the probe did not come back first)',
    });
    expect(server.queues.get('kv.shard.0')?.arguments).toEqual(legacy);
    // The write went back to the front; the probe waits behind it for a worker to ack and ignore it.
    const ready = server.queues.get('kv.shard.0')?.ready ?? [];
    expect(ready.map((m) => m.content.toString())).toEqual(['"w1"', '']);
    expect((ready[1]?.properties.headers as Record<string, unknown>)[MIGRATION_SENTINEL_HEADER]).toEqual(
      expect.any(String),
    );
  });
});
