export * from './amqp-connection.util';
export * from './group-commit.util';
export * from './settle-delivery.util';
export * from './shard-queue-migration.util';
export * from './supervised-channel.util';
export * from './write-publisher.service';
export * from './write-queues.constant';
export * from './write-topology.util';
