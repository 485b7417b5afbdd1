import { describe, expect, it } from 'vitest';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { parseBulkOperations } from './bulk-operations.util';

function refusal(operations: unknown): { code: ErrorCode; message: string } {
  try {
    parseBulkOperations(operations);
  } catch (err) {
    if (err instanceof DomainError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a DomainError');
}

/** Seven good operations, then `bad` at index 7. */
const withBadAt7 = (bad: unknown) => [
  ...Array.from({ length: 7 }, (_, i) => ({ op: 'put', key: `k${i}`, value: i })),
  bad,
];

describe('parseBulkOperations', () => {
  it('should read puts and deletes with their conditions and TTLs, values as given', () => {
    expect(
      parseBulkOperations([
        { op: 'put', key: 'a', value: { x: [1, 'two'] } },
        { op: 'put', key: 'b', value: null, ttl: 60, ifMatch: 3 },
        { op: 'delete', key: 'a', ifMatch: '*' },
        { op: 'delete', key: 'c', ifMatch: '"12"' },
      ]),
    ).toEqual([
      { op: 'put', key: 'a', value: { x: [1, 'two'] }, valueJson: '{"x":[1,"two"]}' },
      { op: 'put', key: 'b', value: null, valueJson: 'null', ttl: 60, condition: { kind: 'version', version: 3 } },
      { op: 'delete', key: 'a', condition: { kind: 'exists' } },
      { op: 'delete', key: 'c', condition: { kind: 'version', version: 12 } },
    ]);
  });

  it('should take 1 to 1000 operations', () => {
    expect(parseBulkOperations(Array.from({ length: 1000 }, (_, i) => ({ op: 'delete', key: `k${i}` })))).toHaveLength(
      1000,
    );
    for (const operations of [[], Array.from({ length: 1001 }, () => ({ op: 'delete', key: 'k' }))]) {
      expect(refusal(operations)).toEqual({
        code: ErrorCode.INVALID_REQUEST,
        message: `operations must be an array of 1 to 1000 operations; it has ${operations.length}`,
      });
    }
    expect(refusal({ op: 'put' }).message).toBe('operations must be an array of 1 to 1000 operations');
  });

  it('should name a bad operation by its index, with the words a single write gets', () => {
    const cases: Array<[unknown, ErrorCode, string]> = [
      [
        { op: 'put', key: '', value: 1 },
        ErrorCode.INVALID_KEY,
        'operations[7].key: the key is empty; it must be 1 to 512 bytes of UTF-8',
      ],
      [
        { op: 'put', key: 'a\u0000', value: 1 },
        ErrorCode.INVALID_KEY,
        'operations[7].key: the key contains a control character',
      ],
      [{ op: 'put', key: 7, value: 1 }, ErrorCode.INVALID_REQUEST, 'operations[7].key: must be a string'],
      [{ op: 'upsert', key: 'a' }, ErrorCode.INVALID_REQUEST, 'operations[7].op: must be put or delete'],
      [
        { op: 'put', key: 'a' },
        ErrorCode.INVALID_REQUEST,
        'operations[7].value: must be present (any JSON, null included)',
      ],
      [
        { op: 'delete', key: 'a', value: 1 },
        ErrorCode.INVALID_REQUEST,
        'operations[7].value: a delete operation takes no such field (it takes op, key, ifMatch)',
      ],
      [
        { op: 'put', key: 'a', value: 1, ifNoneMatch: '*' },
        ErrorCode.INVALID_REQUEST,
        'operations[7].ifNoneMatch: a put operation takes no such field (it takes op, key, value, ttl, ifMatch)',
      ],
      [
        { op: 'put', key: 'a', value: 1, ttl: 0 },
        ErrorCode.INVALID_REQUEST,
        'operations[7].ttl: must be a positive whole number of seconds',
      ],
      [
        { op: 'put', key: 'a', value: 1, ttl: 1.5 },
        ErrorCode.INVALID_REQUEST,
        'operations[7].ttl: must be a positive whole number of seconds',
      ],
      [
        { op: 'put', key: 'a', value: 1, ttl: '60' },
        ErrorCode.INVALID_REQUEST,
        'operations[7].ttl: must be a positive whole number of seconds',
      ],
      [
        { op: 'put', key: 'a', value: 1, ifMatch: -1 },
        ErrorCode.INVALID_REQUEST,
        'operations[7].ifMatch: a version must be a whole number ≥ 0',
      ],
      [
        { op: 'put', key: 'a', value: 1, ifMatch: 'three' },
        ErrorCode.INVALID_REQUEST,
        'operations[7].ifMatch: must be a version (3), "*" or an ETag ("\\"3\\"")',
      ],
      [
        { op: 'put', key: 'a', value: 1, ifMatch: 'W/"3"' },
        ErrorCode.PRECONDITION_FAILED,
        'operations[7].ifMatch: If-Match: W/"3" is a weak entity tag, which never matches: If-Match compares strongly (RFC 9110 section 13.1.1); send the version as a strong tag, such as "3"',
      ],
      [
        { op: 'put', key: 'a', value: 'x'.repeat(1024 * 1024) },
        ErrorCode.VALUE_TOO_LARGE,
        'operations[7].value: the value is 1048578 bytes of JSON; the limit is 1048576 (1 MiB)',
      ],
      [
        [1],
        ErrorCode.INVALID_REQUEST,
        'operations[7]: an operation must be an object such as {"op":"put","key":…,"value":…}',
      ],
    ];
    for (const [bad, code, message] of cases) expect(refusal(withBadAt7(bad))).toEqual({ code, message });
  });
});
