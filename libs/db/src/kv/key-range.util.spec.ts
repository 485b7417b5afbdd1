import { describe, expect, it } from 'vitest';
import { compareUtf8, prefixSuccessor } from './key-range.util';

/** Every key in the range [prefix, successor) has the prefix, and the successor is above every such key. */
function bounds(prefix: string, candidates: string[]): void {
  const successor = prefixSuccessor(prefix);
  for (const key of candidates) {
    const inRange = compareUtf8(key, prefix) >= 0 && (successor === undefined || compareUtf8(key, successor) < 0);
    expect(inRange, `${JSON.stringify(key)} in range of ${JSON.stringify(prefix)}`).toBe(key.startsWith(prefix));
  }
}

describe('prefixSuccessor', () => {
  it('should raise the last character of an ASCII prefix', () => {
    expect(prefixSuccessor('user:')).toBe('user;');
    expect(prefixSuccessor('a')).toBe('b');
    expect(prefixSuccessor('~')).toBe('\u007f');
  });

  it('should raise the last code point of a multi-byte prefix to the next character, never to broken UTF-8', () => {
    // ÿ is C3 BF: adding one to the last byte would give C3 C0, which is not UTF-8.
    expect(prefixSuccessor('café-ÿ')).toBe('café-Ā');
    expect(Buffer.from(prefixSuccessor('ÿ') as string, 'utf8')).toEqual(Buffer.from([0xc4, 0x80]));
    // U+FFFF (EF BF BF), the last three-byte code point, is followed by U+10000 (F0 90 80 80).
    expect(prefixSuccessor('k\uffff')).toBe('k\u{10000}');
    expect(prefixSuccessor('€')).toBe('₭');
    expect(prefixSuccessor('x😀')).toBe('x😁');
  });

  it('should skip the surrogates, which are not characters', () => {
    expect(prefixSuccessor('k\ud7ff')).toBe('k\ue000');
  });

  it('should drop trailing U+10FFFF, the highest code point, and raise what comes before it', () => {
    expect(prefixSuccessor('ab\u{10ffff}')).toBe('ac');
    expect(prefixSuccessor('a\u{10ffff}\u{10ffff}')).toBe('b');
  });

  it('should have no successor for an empty prefix or one of U+10FFFF only: the range is open above', () => {
    expect(prefixSuccessor('')).toBeUndefined();
    expect(prefixSuccessor('\u{10ffff}')).toBeUndefined();
  });

  it('should bound exactly the keys with the prefix, in UTF-8 byte order', () => {
    const keys = ['a', 'ab', 'abc', 'ac', 'a\u{10ffff}', 'aÿ', 'aĀ', 'a€', 'a\uffff', 'a😀', 'b', '', 'ÿ', 'ÿa', 'Ā'];
    for (const prefix of ['a', 'ab', 'aÿ', 'ÿ', 'a\uffff', 'a\u{10ffff}', '']) bounds(prefix, keys);
  });
});

describe('compareUtf8', () => {
  it('should order by UTF-8 bytes, where JavaScript orders U+FFFF after U+10000', () => {
    expect('\uffff' > '\u{10000}').toBe(true);
    expect(compareUtf8('\uffff', '\u{10000}')).toBeLessThan(0);
    expect(['b', 'é', 'a', '😀', '\uffff'].sort(compareUtf8)).toEqual(['a', 'b', 'é', '\uffff', '😀']);
  });
});
