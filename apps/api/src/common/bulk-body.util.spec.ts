import { describe, expect, it } from 'vitest';
import { describeUnstorableJson, MAX_VALUE_DEPTH } from '@keyflow/contracts';
import { describeUnstorableBulkBody } from './bulk-body.util';

const bulk = (values: string[]) =>
  `{"operations":[${values.map((v, i) => `{"op":"put","key":"k${i}","value":${v}}`).join(',')}]}`;
/** What `PUT /v1/kv/{key}` says for the same value. */
const single = (value: string) => describeUnstorableJson(`{"value":${value}}`, { envelope: 1 });

describe('describeUnstorableBulkBody', () => {
  it('should pass storable values, nested as deep as a single write allows', () => {
    const deep = '['.repeat(MAX_VALUE_DEPTH) + ']'.repeat(MAX_VALUE_DEPTH);
    expect(describeUnstorableBulkBody(bulk(['1', '{"a":[1.5,"x"]}', deep]))).toBeUndefined();
  });

  it('should say what a single write says, prefixed by the operation and with the pointer inside it', () => {
    const values = [
      '12345678901234567890123',
      '{"a":{"b":[1,1e999999]}}',
      '"\\u0000"',
      '{"x":1,"x":2}',
      '['.repeat(MAX_VALUE_DEPTH + 1) + ']'.repeat(MAX_VALUE_DEPTH + 1),
      '{"a b":1e-400}',
    ];
    for (const value of values) {
      const body = bulk(['1', '2', '3', '4', '5', '6', '7', value]);
      expect(describeUnstorableBulkBody(body)).toBe(`operations[7]: ${single(value)}`);
    }
  });

  it('should name an operation whose own members are repeated', () => {
    expect(describeUnstorableBulkBody('{"operations":[{"op":"put","key":"a","key":"b","value":1}]}')).toBe(
      'operations[0]: the member name "key" appears twice in the object at the top level; an object keeps one value per name',
    );
    expect(describeUnstorableBulkBody('{"operations":[],"operations":[]}')).toBe(
      'the member name "operations" appears twice in the object at the top level; an object keeps one value per name',
    );
  });
});
