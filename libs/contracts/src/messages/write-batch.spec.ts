import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors/domain.error';
import { decodeWrites, encodeWriteBatch } from './write-batch';
import { encodeWriteMessage, writeMessageText, type WriteMessage } from './write-message';

const put = (n: number): WriteMessage => ({
  v: 1,
  id: `8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c${String(n).padStart(2, '0')}`,
  key: `user:${n}`,
  type: 'put',
  value: { n, text: 'line\nbreak' },
  acceptedAt: '2026-11-23T10:00:00.000Z',
});

describe(decodeWrites.name, () => {
  it('should read a version 1 message as one write', () => {
    const [write] = decodeWrites(encodeWriteMessage(put(1)));
    expect(write).toMatchObject({ ok: true, message: put(1) });
  });

  it('should read the writes of a batch in order, each with its own replyTo', () => {
    const body = encodeWriteBatch([
      writeMessageText(put(1), undefined, 'reply-a'),
      writeMessageText(put(2), JSON.stringify(put(2).value)),
      writeMessageText(put(3)),
    ]);
    const writes = decodeWrites(body);
    expect(writes.map((w) => (w.ok ? [w.message, w.replyTo] : undefined))).toEqual([
      [put(1), 'reply-a'],
      [put(2), undefined],
      [put(3), undefined],
    ]);
  });

  it('should give a write that cannot be applied back in its place, its batch-mates intact', () => {
    const poison = writeMessageText(put(2)).replace('"n":2', '"n":1e999999');
    const writes = decodeWrites(encodeWriteBatch([writeMessageText(put(1)), poison, writeMessageText(put(3))]));
    expect(writes.map((w) => w.ok)).toEqual([true, false, true]);
    const bad = writes[1];
    expect(bad?.ok === false && bad.error.code).toBe(ErrorCode.INVALID_VALUE);
    expect(bad?.ok === false && bad.error.details.operationId).toBe(put(2).id);
    expect(bad?.text).toBe(poison);
  });

  it('should give each write its own request id, and name it for a write that cannot be applied', () => {
    const a = { ...put(1), requestId: 'req-a' };
    const poison = writeMessageText({ ...put(2), requestId: 'req-b' }).replace('"n":2', '"n":1e999999');
    const writes = decodeWrites(encodeWriteBatch([writeMessageText(a), poison, writeMessageText(put(3))]));
    expect(writes.map((w) => (w.ok ? w.message.requestId : w.requestId))).toEqual(['req-a', 'req-b', undefined]);
    const [unreadable] = decodeWrites(encodeWriteBatch(['not json']));
    expect(unreadable).toMatchObject({ ok: false, text: 'not json' });
    expect(unreadable).not.toHaveProperty('requestId');
  });

  it('should refuse a batch whose header is missing or whose line count differs from it', () => {
    expect(() => decodeWrites(Buffer.from('nonsense\n{}'))).toThrow(/first line is not JSON/);
    expect(() => decodeWrites(Buffer.from('{"v":3}\n{}'))).toThrow(/version 2 header/);
    const truncated = encodeWriteBatch([writeMessageText(put(1)), writeMessageText(put(2))])
      .toString()
      .split('\n');
    expect(() => decodeWrites(Buffer.from(truncated.slice(0, 2).join('\n')))).toThrow(
      /announces 2 writes and the body has 1/,
    );
  });
});
