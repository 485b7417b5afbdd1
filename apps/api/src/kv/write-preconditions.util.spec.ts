import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@keyflow/contracts';
import { parseWriteHeaders } from './write-preconditions.util';

describe(parseWriteHeaders.name, () => {
  it('should read no conditions and no wait from no headers', () => {
    expect(parseWriteHeaders({})).toEqual({ waitMs: 0 });
  });

  it('should read If-Match versions and *', () => {
    expect(parseWriteHeaders({ 'if-match': '"3"' }).condition).toEqual({ kind: 'version', version: 3 });
    expect(parseWriteHeaders({ 'if-match': ' "12" ' }).condition).toEqual({ kind: 'version', version: 12 });
    expect(parseWriteHeaders({ 'if-match': '*' }).condition).toEqual({ kind: 'exists' });
  });

  it('should refuse a weak If-Match tag as a failed precondition, since If-Match compares strongly', () => {
    for (const weak of ['W/"3"', 'W/"abc"']) {
      let error: unknown;
      try {
        parseWriteHeaders({ 'if-match': weak });
      } catch (err) {
        error = err;
      }
      expect(error).toMatchObject({
        code: ErrorCode.PRECONDITION_FAILED,
        message:
          `If-Match: ${weak} is a weak entity tag, which never matches: If-Match compares strongly ` +
          '(RFC 9110 section 13.1.1); send the version as a strong tag, such as "3"',
      });
    }
  });

  it('should read If-None-Match: * as create-only', () => {
    expect(parseWriteHeaders({ 'if-none-match': '*' }).condition).toEqual({ kind: 'absent' });
  });

  it('should refuse malformed or contradictory conditions', () => {
    expect(() => parseWriteHeaders({ 'if-match': '3' })).toThrow(/If-Match must be/);
    expect(() => parseWriteHeaders({ 'if-match': '"1", "2"' })).toThrow(/If-Match must be/);
    expect(() => parseWriteHeaders({ 'if-none-match': '"3"' })).toThrow(/must be \*/);
    expect(() => parseWriteHeaders({ 'if-match': '*', 'if-none-match': '*' })).toThrow(/not both/);
  });

  it('should read Prefer: wait in seconds and cap it at 60', () => {
    expect(parseWriteHeaders({ prefer: 'wait=5' }).waitMs).toBe(5_000);
    expect(parseWriteHeaders({ prefer: 'respond-async, wait=2' }).waitMs).toBe(2_000);
    expect(parseWriteHeaders({ prefer: 'wait=600' }).waitMs).toBe(60_000);
    expect(parseWriteHeaders({ prefer: 'handling=lenient' }).waitMs).toBe(0);
  });

  it('should check the idempotency key', () => {
    expect(parseWriteHeaders({ 'idempotency-key': 'order-42' }).idempotencyKey).toBe('order-42');
    expect(() => parseWriteHeaders({ 'idempotency-key': 'has space' })).toThrow(/Idempotency-Key/);
    expect(() => parseWriteHeaders({ 'idempotency-key': 'x'.repeat(256) })).toThrow(/Idempotency-Key/);
  });
});
