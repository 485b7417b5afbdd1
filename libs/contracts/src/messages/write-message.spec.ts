import { describe, expect, it } from 'vitest';
import { type DomainError, ErrorCode, NonRetryableWriteError } from '../errors/domain.error';
import { MAX_VALUE_DEPTH } from '../kv/kv.constant';
import { decodeWriteText, encodeWriteMessage, isRequestId, type WriteMessage } from './write-message';

/** What a worker reads from a single-write message's body. */
const decodeWriteMessage = (body: Buffer): WriteMessage => decodeWriteText(body.toString('utf8')).message;

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
  throw new Error('expected decodeWriteText to throw');
}

describe(decodeWriteText.name, () => {
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
    expect(err.details.operationId).toBe(message.id);
  });

  it("should carry a put's expiry and an expiry delete's cause", () => {
    const expiring = { ...message, expiresAt: '2026-11-23T10:00:02.000Z' };
    expect(decodeWriteMessage(encodeWriteMessage(expiring))).toEqual(expiring);
    const expiry: WriteMessage = { ...message, type: 'delete', value: undefined, cause: 'expire' };
    delete expiry.value;
    expect(decodeWriteMessage(encodeWriteMessage(expiry))).toEqual(expiry);
  });

  it('should reject an expiry on a delete, a cause on a put, and a bad timestamp', () => {
    const { value: _value, ...rest } = message;
    const expiringDelete = JSON.stringify({ ...rest, type: 'delete', expiresAt: '2026-11-23T10:00:02.000Z' });
    expect(decodeError(expiringDelete).message).toContain('expiresAt must be an ISO timestamp, on a put');
    expect(decodeError(JSON.stringify({ ...message, cause: 'expire' })).message).toContain('cause must be expire');
    expect(decodeError(JSON.stringify({ ...message, expiresAt: 'soon' })).message).toContain('expiresAt');
  });

  it("should carry the owner's user id, and refuse one that is not a UUID", () => {
    const owner = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    expect(decodeWriteText(JSON.stringify({ ...message, owner })).message.owner).toBe(owner);
    expect(decodeError(JSON.stringify({ ...message, owner: 'alice' })).message).toBe(
      'malformed write message: owner must be a UUID',
    );
  });

  describe('the request id', () => {
    const requestId = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

    it('should carry the id of the request that made the write, spliced value or not', () => {
      const withId = { ...message, requestId };
      expect(decodeWriteMessage(encodeWriteMessage(withId))).toEqual(withId);
      expect(decodeWriteMessage(encodeWriteMessage(withId, JSON.stringify(message.value)))).toEqual(withId);
    });

    it('should read a write without one (published before it existed, or by a worker) as it is', () => {
      expect(decodeWriteMessage(encodeWriteMessage(message))).not.toHaveProperty('requestId');
    });

    it('should leave out an id unfit to log, and still accept the write', () => {
      for (const bad of [42, '', 'has space', 'x'.repeat(129), 'line\nbreak', null]) {
        const decoded = decodeWriteText(JSON.stringify({ ...message, requestId: bad })).message;
        expect(decoded, String(bad)).toEqual(message);
      }
    });
  });

  it('should reject a put without a value', () => {
    const { value: _value, ...rest } = message;
    expect(decodeError(JSON.stringify(rest)).message).toBe('malformed write message: a put needs a value');
  });

  it('should throw NonRetryableWriteError for a malformed message, so a worker dead-letters it at once', () => {
    const err = decodeError(JSON.stringify({ ...message, type: 'merge' }));
    expect(err).toBeInstanceOf(NonRetryableWriteError);
    expect(err.code).toBe(ErrorCode.MALFORMED_MESSAGE);
  });

  describe('a value the API refuses (one already queued, or replayed)', () => {
    // The body as an older API (which did not check values) would have published it: the value spliced in as text.
    const queued = (valueJson: string) =>
      `${JSON.stringify({ ...message, value: undefined }).slice(0, -1)},"value":${valueJson}}`;

    it('should refuse each kind of value keyflow cannot store faithfully, naming it, with the operation to record', () => {
      const cases: Array<[string, string]> = [
        ['12345678901234567890123', 'the number 12345678901234567890123 at /value cannot be stored exactly'],
        ['{"a":1e999999}', 'the number 1e999999 at /value/a is out of range'],
        ['"a\\u0000b"', 'the string at /value contains U+0000'],
        ['["\\ud800"]', 'the string at /value/0 contains a lone UTF-16 surrogate'],
        [`${'['.repeat(MAX_VALUE_DEPTH + 1)}${']'.repeat(MAX_VALUE_DEPTH + 1)}`, 'the value is nested too deeply'],
      ];
      for (const [valueJson, problem] of cases) {
        const err = decodeError(queued(valueJson));
        expect(err, valueJson).toBeInstanceOf(NonRetryableWriteError);
        expect(err.code).toBe(ErrorCode.INVALID_VALUE);
        expect(err.message).toContain(`the write cannot be stored as sent: ${problem}`);
        expect(err.details).toEqual({
          operationId: message.id,
          key: message.key,
          type: 'put',
          acceptedAt: message.acceptedAt,
        });
      }
    });

    it(`should accept what the API accepts: exact numbers, Unicode text, ${MAX_VALUE_DEPTH} levels of nesting`, () => {
      for (const valueJson of ['1.50', '-0', '9007199254740991', '"🙂 \\u0001"', '{"a":[null,true]}']) {
        expect(decodeWriteMessage(Buffer.from(queued(valueJson))).key).toBe(message.key);
      }
      const deepest = `${'['.repeat(MAX_VALUE_DEPTH)}${']'.repeat(MAX_VALUE_DEPTH)}`;
      expect(decodeWriteMessage(Buffer.from(queued(deepest))).type).toBe('put');
      expect(
        decodeWriteMessage(encodeWriteMessage({ ...message, condition: { kind: 'version', version: 3 } })).condition,
      ).toEqual({ kind: 'version', version: 3 });
    });
  });
});

describe(isRequestId.name, () => {
  it("should take nginx's ids, Fastify's UUIDs and any 1 to 128 visible ASCII characters", () => {
    expect(isRequestId('0f1e2d3c4b5a69788796a5b4c3d2e1f0')).toBe(true);
    expect(isRequestId('8b0d6c3e-5f7a-4c1e-9a3b-2d4f6e8a0c1b')).toBe(true);
    expect(isRequestId('x'.repeat(128))).toBe(true);
  });

  it('should refuse what is not a string, empty, too long, or holds spaces, control or non-ASCII characters', () => {
    for (const bad of [undefined, 7, '', 'x'.repeat(129), 'a b', 'a\tb', 'café']) expect(isRequestId(bad)).toBe(false);
  });
});
