import { describe, expect, it } from 'vitest';
import { describeUnstorableJson } from './json-text.util';
import { MAX_VALUE_DEPTH } from './kv.constant';

const nested = (levels: number, inner = '1') => '['.repeat(levels) + inner + ']'.repeat(levels);

describe(describeUnstorableJson.name, () => {
  describe('numbers', () => {
    it('should accept every number an IEEE 754 double reads back as the same decimal', () => {
      for (const n of ['0', '-0', '7', '-12', '1.5', '1.50', '0.1', '1e3', '1E+3', '2.5e-7', '9007199254740991']) {
        expect(describeUnstorableJson(`{"value":${n}}`)).toBeUndefined();
      }
      expect(
        describeUnstorableJson('[1.7976931348623157e308, 5e-324, 123456789012345680000, 0.30000000000000004]'),
      ).toBe(undefined);
      expect(describeUnstorableJson('{"value":0e999999999999999999}')).toBeUndefined();
    });

    it('should refuse a number that would read back as a different one, naming where it is', () => {
      expect(describeUnstorableJson('{"value":12345678901234567890123}')).toBe(
        'the number 12345678901234567890123 at /value cannot be stored exactly: keyflow stores numbers as ' +
          'IEEE 754 doubles and it would read back as 1.2345678901234568e+22 (send it as a string to keep every digit)',
      );
      expect(describeUnstorableJson('{"value":{"a":[1, 9007199254740993]}}')).toMatch(
        /^the number 9007199254740993 at \/value\/a\/1 cannot be stored exactly: .* read back as 9007199254740992 /,
      );
      expect(describeUnstorableJson('{"value":3.14159265358979323846}')).toMatch(/read back as 3.141592653589793 /);
      expect(describeUnstorableJson('{"value":1e-400}')).toMatch(/^the number 1e-400 at \/value .* read back as 0 /);
    });

    it('should refuse a number beyond the range of a double instead of storing null', () => {
      expect(describeUnstorableJson('{"value":1e999999}')).toBe(
        'the number 1e999999 at /value is out of range: keyflow stores numbers as IEEE 754 doubles, ' +
          'whose magnitude is at most 1.7976931348623157e+308',
      );
      expect(describeUnstorableJson(`{"value":-${'9'.repeat(400)}}`)).toBe(
        `the number -${'9'.repeat(23)}… (401 characters) at /value is out of range: keyflow stores numbers as ` +
          'IEEE 754 doubles, whose magnitude is at most 1.7976931348623157e+308',
      );
    });
  });

  describe('strings', () => {
    it('should accept any well-formed Unicode text, escaped or not', () => {
      expect(describeUnstorableJson('{"value":"a\\u0001b \\ud83d\\ude42 🙂 \\"q\\" \\\\"}')).toBeUndefined();
    });

    it('should refuse U+0000 in a value or a member name', () => {
      expect(describeUnstorableJson('{"value":"a\\u0000b"}')).toBe(
        'the string at /value contains U+0000 (the NUL character), which keyflow cannot store',
      );
      expect(describeUnstorableJson('{"value":{"ok":1,"a\\u0000":2}}')).toBe(
        'the member name at /value/a\u0000 contains U+0000 (the NUL character), which keyflow cannot store',
      );
    });

    it('should refuse lone surrogates, escaped or raw, which are not Unicode text', () => {
      const loneSurrogate =
        'contains a lone UTF-16 surrogate (such as \\ud800 without its pair), which is not Unicode text';
      expect(describeUnstorableJson('{"value":"\\ud800"}')).toBe(`the string at /value ${loneSurrogate}`);
      expect(describeUnstorableJson('{"value":["x","\\udc00a"]}')).toBe(`the string at /value/1 ${loneSurrogate}`);
      expect(describeUnstorableJson('{"value":"\ud800"}')).toBe(`the string at /value ${loneSurrogate}`);
    });

    it('should escape / and ~ in the pointer it reports (RFC 6901)', () => {
      expect(describeUnstorableJson('{"value":{"a/b~c":"\\u0000"}}')).toMatch(/^the string at \/value\/a~1b~0c /);
    });
  });

  describe('member names', () => {
    it('should refuse a name that appears twice in one object, since only one of them would be kept', () => {
      expect(describeUnstorableJson('{"value":{"a":1,"b":{"a":2},"a":3}}')).toBe(
        'the member name "a" appears twice in the object at /value; an object keeps one value per name',
      );
      expect(describeUnstorableJson('{"value":1,"value":2}')).toBe(
        'the member name "value" appears twice in the object at the top level; an object keeps one value per name',
      );
      expect(describeUnstorableJson('[{"a":1},{"a":2}]')).toBeUndefined();
    });
  });

  describe('nesting', () => {
    it(`should accept a value nested ${MAX_VALUE_DEPTH} levels deep inside its envelope`, () => {
      expect(describeUnstorableJson(`{"value":${nested(MAX_VALUE_DEPTH)}}`, { envelope: 1 })).toBeUndefined();
      expect(describeUnstorableJson(nested(MAX_VALUE_DEPTH))).toBeUndefined();
    });

    it('should refuse one level more, pointing at the array or object that is too deep', () => {
      expect(describeUnstorableJson(`{"value":${nested(MAX_VALUE_DEPTH + 1)}}`, { envelope: 1 })).toBe(
        `the value is nested too deeply at /value${'/0'.repeat(MAX_VALUE_DEPTH)}: ` +
          `arrays and objects may nest at most ${MAX_VALUE_DEPTH} levels deep`,
      );
      expect(describeUnstorableJson(nested(MAX_VALUE_DEPTH + 1))).toMatch(/^the value is nested too deeply at \/0/);
    });

    it('should refuse 100,000 levels without recursing, before the text is parsed', () => {
      expect(describeUnstorableJson(`{"value":${nested(100_000)}}`, { envelope: 1 })).toMatch(
        /^the value is nested too deeply at \/value\/0\/0/,
      );
      expect(describeUnstorableJson(`{"value":${'['.repeat(100_000)}`, { envelope: 1 })).toMatch(/too deeply/);
    });
  });

  describe('byte order mark', () => {
    it('should check what follows a byte order mark, which JSON parsers skip', () => {
      expect(describeUnstorableJson('\ufeff{"value":1e400}')).toMatch(/^the number 1e400 at \/value is out of range/);
    });
  });

  describe('malformed text', () => {
    it('should leave syntax errors to the JSON parser', () => {
      for (const text of ['', '{"value":', '{"value":"abc', '{"value":01x}', '{"value": @}', '{"value":"\\x"}']) {
        expect(describeUnstorableJson(text)).toBeUndefined();
      }
    });
  });
});
