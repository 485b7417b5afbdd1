import { connect, type AmqpConnectionManager } from 'amqp-connection-manager';

export interface AmqpConnectionOptions {
  urls: string[];
  /** Seen in the RabbitMQ management UI. */
  connectionName: string;
  onError?: (err: Error) => void;
  onConnect?: (url: string) => void;
  onDisconnect?: (err: Error | undefined) => void;
}

/** A connection that reconnects by itself (every 1 s) and re-runs every channel's setup when it does. */
export function createAmqpConnection(options: AmqpConnectionOptions): AmqpConnectionManager {
  const connection = connect(options.urls, {
    heartbeatIntervalInSeconds: 5,
    reconnectTimeInSeconds: 1,
    connectionOptions: { clientProperties: { connection_name: options.connectionName } },
  });
  connection.on('connect', ({ url }) => options.onConnect?.(typeof url === 'string' ? url : 'amqp'));
  connection.on('disconnect', ({ err }) => options.onDisconnect?.(err));
  connection.on('connectFailed', ({ err }) => options.onError?.(err));
  return connection;
}
