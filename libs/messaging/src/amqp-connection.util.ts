import { connect, type AmqpConnectionManager } from 'amqp-connection-manager';

/** Where connection events are reported; a Nest `Logger` fits. */
export interface ConnectionLogger {
  log(message: string): void;
  warn(message: string): void;
}

export interface AmqpConnectionOptions {
  urls: string[];
  /** Seen in the RabbitMQ management UI. */
  connectionName: string;
  logger?: ConnectionLogger;
}

/**
 * A connection that reconnects by itself (every 1 s) and re-runs every channel's setup when it does.
 * The manager itself emits no `error` event; its channels do, which is why keyflow opens them as
 * `SupervisedChannel`s rather than with `createChannel`.
 */
export function createAmqpConnection(options: AmqpConnectionOptions): AmqpConnectionManager {
  const connection = connect(options.urls, {
    heartbeatIntervalInSeconds: 5,
    reconnectTimeInSeconds: 1,
    // TCP_NODELAY: amqplib leaves Nagle's algorithm on, and a publish is several small frames, so each one waited
    // for the previous one's ACK (delayed by up to 40 ms): confirms took 40-80 ms on an idle broker.
    connectionOptions: { noDelay: true, clientProperties: { connection_name: options.connectionName } },
  });
  const logger = options.logger;
  connection.on('connect', () => logger?.log('connected to RabbitMQ'));
  connection.on('disconnect', ({ err }) => logger?.warn(`disconnected from RabbitMQ${err ? `: ${err.message}` : ''}`));
  connection.on('connectFailed', ({ err }) => logger?.warn(`cannot connect to RabbitMQ: ${err.message}`));
  // A resource alarm (memory, disk) on the broker: publishes wait, and time out as 503s, until it clears.
  connection.on('blocked', ({ reason }) => logger?.warn(`RabbitMQ blocked the connection: ${reason}`));
  connection.on('unblocked', () => logger?.log('RabbitMQ unblocked the connection'));
  return connection;
}
