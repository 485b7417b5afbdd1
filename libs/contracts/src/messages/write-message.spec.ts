import { describe, expect, it } from 'vitest';
import { type DomainError, ErrorCode } from '../errors/domain.error';
import { decodeWriteMessage, encodeWriteMessage, type WriteMessage } from './write-message';

const message: WriteMessage = {
  v: 1,
  id: '8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b',
  key: 'user:42',
  type: 'put',
  value: { name: 'Ada' },
  acceptedAt: '2026-11-23T10:00:00.000Z',
};

function decodeError(body: string): DomainError {
  try {
    decodeWriteMessage(Buffer.from(body));
  } catch (err) {
    return err as DomainError;
  }
  throw new Error('expected decodeWriteMessage to throw');
}

describe(decodeWriteMessage.name, () => {
  it('should round-trip an encoded message', () => {
    expect(decodeWriteMessage(encodeWriteMessage(message))).toEqual(message);
  });

  it('should splice in a value serialised beforehand, giving the same message', () => {
    const encoded = encodeWriteMessage(message, JSON.stringify(message.value));
    expect(decodeWriteMessage(encoded)).toEqual(message);
    expect(decodeWriteMessage(encodeWriteMessage({ ...message, value: null }, 'null')).value).toBeNull();
  });

  it('should accept a put of null and a delete without a value', () => {
    expect(decodeWriteMessage(encodeWriteMessage({ ...message, value: null })).value).toBeNull();
    const { value: _value, ...rest } = message;
    expect(decodeWriteMessage(encodeWriteMessage({ ...rest, type: 'delete' })).type).toBe('delete');
  });

  it('should reject bodies that are not JSON objects', () => {
    expect(decodeError('not json').message).toBe('the message body is not JSON');
    expect(decodeError('[1]').message).toBe('the message body is not a JSON object');
    expect(decodeError('[1]').code).toBe(ErrorCode.MALFORMED_MESSAGE);
  });

  it('should name every bad field and keep the operation id when it is valid', () => {
    const err = decodeError(JSON.stringify({ v: 2, id: message.id, key: '', type: 'merge', acceptedAt: 'yesterday' }));
    expect(err.message).toBe(
      'malformed write message: unsupported format version 2; the key is empty; it must be 1 to 512 bytes of UTF-8; type must be put or delete; acceptedAt must be an ISO timestamp',
    );
    expect(err.context.operationId).toBe(message.id);
  });

  it('should reject a put without a value', () => {
    const { value: _value, ...rest } = message;
    expect(decodeError(JSON.stringify(rest)).message).toBe('malformed write message: a put needs a value');
  });
});
