export * from './amqp-connection.util';
export * from './write-publisher.service';
export * from './write-queues.constant';
