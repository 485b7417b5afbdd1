import type { ConfirmChannel } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { CHANGE_STREAM, decodeChangeHead, type WriteMessage } from '@keyflow/contracts';
import type { AppliedOp } from '@keyflow/db';
import { ChangePublisher, changesOf } from './change-publisher';

const AT = '2026-12-01T10:00:00.000Z';

function op(id: string, over: Partial<AppliedOp> = {}): AppliedOp {
  return {
    id,
    key: 'k',
    type: 'put',
    status: 'applied',
    version: 1,
    created: false,
    duplicate: false,
    updatedAt: AT,
    ...over,
  };
}

function write(id: string, over: Partial<WriteMessage> = {}): WriteMessage {
  return { v: 1, id, key: 'k', type: 'put', value: { a: [1, 'x'] }, acceptedAt: AT, ...over };
}

describe(changesOf.name, () => {
  it('should give one change per applied write, in order, with the applied version and the stored value', () => {
    const changes = changesOf(
      [op('a', { version: 3 }), op('b', { type: 'delete', version: 4 }), op('c', { type: 'delete', version: 5 })],
      [write('a'), write('b', { type: 'delete', value: undefined }), write('c', { type: 'delete', cause: 'expire' })],
    );

    expect(changes).toEqual([
      { change: { kind: 'put', key: 'k', version: 3, valueJson: '{"a":[1,"x"]}', updatedAt: AT }, duplicate: false },
      { change: { kind: 'delete', key: 'k', version: 4, updatedAt: AT }, duplicate: false },
      { change: { kind: 'expire', key: 'k', version: 5, updatedAt: AT }, duplicate: false },
    ]);
  });

  it('should give none for a conflict, keep a duplicate (marked), and one change for a write delivered twice', () => {
    const changes = changesOf(
      [
        op('a', { version: 2, duplicate: true }),
        op('b', { status: 'conflict', version: 2 }),
        op('a', { version: 2, duplicate: true }),
      ],
      [write('a'), write('b')],
    );

    expect(changes.map((c) => [c.change.version, c.duplicate])).toEqual([[2, true]]);
  });
});

class ConfirmingChannel {
  readonly sent: Array<{ exchange: string; routingKey: string; content: Buffer; headers: Record<string, unknown> }> =
    [];
  confirms: () => Promise<void> = () => Promise.resolve();

  publish(exchange: string, routingKey: string, content: Buffer, options: { headers: Record<string, unknown> }) {
    this.sent.push({ exchange, routingKey, content, headers: options.headers });
    return true;
  }

  waitForConfirms(): Promise<void> {
    return this.confirms();
  }
}

describe(ChangePublisher.name, () => {
  const changes = changesOf(
    [op('a', { version: 7 }), op('b', { version: 8, duplicate: true })],
    [write('a'), write('b')],
  );

  describe('publish', () => {
    it('should send one message per change to the stream, the value as body, redo on a duplicate', async () => {
      const channel = new ConfirmingChannel();

      await new ChangePublisher().publish(channel as unknown as ConfirmChannel, changes, false);

      expect(channel.sent.map((m) => [m.exchange, m.routingKey, m.content.toString()])).toEqual([
        ['', CHANGE_STREAM, '{"a":[1,"x"]}'],
        ['', CHANGE_STREAM, '{"a":[1,"x"]}'],
      ]);
      expect(channel.sent.map((m) => decodeChangeHead(m.headers))).toEqual([
        { kind: 'put', key: 'k', version: 7, updatedAt: AT, redo: false },
        { kind: 'put', key: 'k', version: 8, updatedAt: AT, redo: true },
      ]);
    });

    it('should mark every change of a retry as redo', async () => {
      const channel = new ConfirmingChannel();

      await new ChangePublisher().publish(channel as unknown as ConfirmChannel, changes, true);

      expect(channel.sent.map((m) => decodeChangeHead(m.headers)?.redo)).toEqual([true, true]);
    });

    it('should reject when the broker nacks, or does not confirm in time', async () => {
      const channel = new ConfirmingChannel();
      channel.confirms = () => Promise.reject(new Error('message was nacked'));
      await expect(new ChangePublisher().publish(channel as unknown as ConfirmChannel, changes, false)).rejects.toThrow(
        'nacked',
      );

      channel.confirms = () => new Promise(() => undefined);
      await expect(
        new ChangePublisher(20).publish(channel as unknown as ConfirmChannel, changes, false),
      ).rejects.toThrow('the broker did not confirm 2 change(s) in 20 ms');
    });
  });
});
