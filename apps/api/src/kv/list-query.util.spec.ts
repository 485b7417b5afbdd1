import { describe, expect, it } from 'vitest';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { decodeCursor, encodeCursor, parseListQuery } from './list-query.util';

function refusal(fn: () => unknown): { code: ErrorCode; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof DomainError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe('encodeCursor and decodeCursor', () => {
  it('should round-trip the last key of a page, multi-byte keys included, as base64url', () => {
    for (const key of ['user:42', 'user:é€😀', 'user:\uffff', `user:${'x'.repeat(500)}`]) {
      const cursor = encodeCursor('user:', key);
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(cursor, 'user:')).toBe(key);
    }
    expect(decodeCursor(encodeCursor('', 'any'), '')).toBe('any');
  });

  it('should refuse with 400 what is not a cursor keyflow made', () => {
    const forged = (body: unknown) => Buffer.from(JSON.stringify(body)).toString('base64url');
    for (const cursor of [
      'not a cursor!',
      'abc',
      Buffer.from('{"v":1').toString('base64url'),
      forged({ v: 2, p: 'user:', k: 'user:1' }),
      forged({ v: 1, p: 'user:', k: 7 }),
      forged({ v: 1, p: 'user:', k: '' }),
      forged({ v: 1, p: 'user:', k: 'user:\u0001' }),
      forged([1, 2]),
      forged(null),
      Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url'),
      'A'.repeat(5000),
    ]) {
      expect(refusal(() => decodeCursor(cursor, 'user:'))).toEqual({
        code: ErrorCode.INVALID_REQUEST,
        message:
          'cursor is not valid: it is not a cursor keyflow made; pass the cursor of the previous page unchanged, or none for the first page',
      });
    }
  });

  it('should refuse a cursor of another prefix, or one whose key was changed to leave the prefix', () => {
    const forged = Buffer.from(JSON.stringify({ v: 1, p: 'user:', k: 'admin:1' })).toString('base64url');
    for (const [cursor, prefix] of [
      [encodeCursor('user:', 'user:1'), 'order:'],
      [encodeCursor('user:', 'user:1'), ''],
      [forged, 'user:'],
    ] as const) {
      expect(refusal(() => decodeCursor(cursor, prefix)).message).toMatch(
        /^cursor is not valid: it belongs to a listing of another prefix/,
      );
    }
  });
});

describe('parseListQuery', () => {
  it('should default to every key, 100 a page, values included, eventually consistent', () => {
    expect(parseListQuery({})).toEqual({ prefix: '', limit: 100, keysOnly: false, strong: false });
  });

  it('should read every parameter', () => {
    const cursor = encodeCursor('user:', 'user:9');
    expect(parseListQuery({ prefix: 'user:', limit: '1000', cursor, keysOnly: 'true', consistency: 'strong' })).toEqual(
      { prefix: 'user:', limit: 1000, after: 'user:9', keysOnly: true, strong: true },
    );
    expect(parseListQuery({ limit: '1', keysOnly: 'false', consistency: 'eventual' })).toMatchObject({
      limit: 1,
      keysOnly: false,
      strong: false,
    });
  });

  it('should refuse a limit outside 1 to 1000, or not a whole number', () => {
    for (const limit of ['0', '1001', 'junk', '', '-1', '1.5', '1e2', ' 5', '00001000000']) {
      expect(refusal(() => parseListQuery({ limit }))).toEqual({
        code: ErrorCode.INVALID_REQUEST,
        message: `limit must be a whole number from 1 to 1000; got ${JSON.stringify(limit)}`,
      });
    }
  });

  it('should refuse bad keysOnly, consistency and prefix, unknown parameters and repeated ones', () => {
    expect(refusal(() => parseListQuery({ keysOnly: 'yes' })).message).toBe('keysOnly must be true or false');
    expect(refusal(() => parseListQuery({ consistency: 'linear' })).message).toBe(
      'consistency must be eventual or strong',
    );
    expect(refusal(() => parseListQuery({ prefix: 'a\u0007' })).message).toBe(
      'prefix: the prefix contains a control character',
    );
    expect(refusal(() => parseListQuery({ prefix: 'x'.repeat(513) })).message).toBe(
      'prefix: the prefix is 513 bytes of UTF-8; the limit is 512',
    );
    expect(refusal(() => parseListQuery({ offset: '10' })).message).toBe(
      'unknown query parameter offset: the listing takes prefix, limit, cursor, keysOnly, consistency',
    );
    expect(refusal(() => parseListQuery({ limit: ['1', '2'] })).message).toBe('limit must be given once');
  });
});
