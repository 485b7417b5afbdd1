import { describe, expect, it } from 'vitest';
import { describeInvalidKey, serialiseValue } from './key.util';
import { MAX_VALUE_BYTES } from './kv.constant';

describe(describeInvalidKey.name, () => {
  it('should accept keys of 1 to 512 bytes of UTF-8', () => {
    expect(describeInvalidKey('a')).toBeUndefined();
    expect(describeInvalidKey('user:42/profile')).toBeUndefined();
    expect(describeInvalidKey('é'.repeat(256))).toBeUndefined(); // 512 bytes
  });

  it('should reject an empty key', () => {
    expect(describeInvalidKey('')).toMatch(/empty/);
  });

  it('should count bytes, not characters', () => {
    expect(describeInvalidKey('é'.repeat(257))).toBe('the key is 514 bytes of UTF-8; the limit is 512');
    expect(describeInvalidKey('a'.repeat(513))).toBe('the key is 513 bytes of UTF-8; the limit is 512');
  });

  it('should reject control characters', () => {
    for (const c of ['\u0000', '\n', '\t', '\u001f', '\u007f', '\u0085']) {
      expect(describeInvalidKey(`a${c}b`)).toBe('the key contains a control character');
    }
  });

  it('should reject lone surrogates, which are not UTF-8', () => {
    expect(describeInvalidKey('a\ud800b')).toBe('the key is not well-formed UTF-8');
    expect(describeInvalidKey('emoji 🙂')).toBeUndefined();
  });
});

describe(serialiseValue.name, () => {
  it('should return the JSON text of values within 1 MiB', () => {
    expect(serialiseValue({ a: [1, null] })).toEqual({ json: '{"a":[1,null]}' });
    expect(serialiseValue(null)).toEqual({ json: 'null' });
  });

  it('should report the size of values over 1 MiB', () => {
    expect(serialiseValue('x'.repeat(MAX_VALUE_BYTES))).toEqual({ tooLarge: MAX_VALUE_BYTES + 2 });
    expect(serialiseValue('x'.repeat(MAX_VALUE_BYTES - 2))).toHaveProperty('json');
  });
});
