import { describe, expect, it, vi } from 'vitest';

const connect = vi.fn(() => ({ on: vi.fn() }));
vi.mock('amqp-connection-manager', () => ({ connect }));

describe('createAmqpConnection', () => {
  it("should turn Nagle's algorithm off, so a publish's frames do not wait for delayed ACKs", async () => {
    const { createAmqpConnection } = await import('./amqp-connection.util');
    createAmqpConnection({ urls: ['amqp://127.0.0.1:5672'], connectionName: 'test' });
    expect(connect).toHaveBeenCalledWith(
      ['amqp://127.0.0.1:5672'],
      expect.objectContaining({ connectionOptions: expect.objectContaining({ noDelay: true }) }),
    );
  });
});
