/**
 * The smallest string greater than every string that starts with `prefix`, in code point order (which is UTF-8
 * byte order): the exclusive upper bound of the key range `[prefix, successor)` that holds exactly the keys
 * with that prefix. `undefined` when there is none (an empty prefix, or one made only of U+10FFFF): the range is
 * then open above.
 *
 * Computed on code points, not bytes: a byte-level "add one to the last byte" can produce bytes that are not
 * UTF-8 (`ÿ` is C3 BF; C3 C0 is not a character), which PostgreSQL refuses as TEXT. Replacing the last code point
 * by the next one (skipping the surrogates, which are not characters) bounds the same set: a string below
 * `head + next(c)` and not below `head + c` must begin with `head + c`.
 */
export function prefixSuccessor(prefix: string): string | undefined {
  const codePoints = Array.from(prefix, (c) => c.codePointAt(0) as number);
  while (codePoints.length > 0) {
    const last = codePoints.pop() as number;
    if (last < MAX_CODE_POINT) {
      const next = last + 1 === FIRST_SURROGATE ? AFTER_SURROGATES : last + 1;
      return String.fromCodePoint(...codePoints, next);
    }
  }
  return undefined;
}

/** Compares two strings in UTF-8 byte order (JavaScript's `<` compares UTF-16 code units, which differs). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const MAX_CODE_POINT = 0x10ffff;
const FIRST_SURROGATE = 0xd800;
const AFTER_SURROGATES = 0xe000;
