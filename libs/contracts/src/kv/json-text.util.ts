import { MAX_VALUE_DEPTH } from './kv.constant';

/**
 * Where JSON text holds something keyflow cannot store faithfully. A value travels as a JavaScript value
 * (numbers are IEEE 754 doubles) through the broker into PostgreSQL JSONB and must read back equal to what
 * was written, so the text is refused, before anything is accepted, when it has:
 * - a number that a double does not hold exactly as written (`12345678901234567890123`, `1e999999`, `1e-400`);
 *   equal decimals are fine (`1.50` reads back as `1.5`, `-0` as `0`);
 * - a string or member name with U+0000 (JSONB cannot store it) or a lone surrogate (not Unicode text);
 * - a member name twice in one object (only one would be kept);
 * - arrays and objects nested more than `MAX_VALUE_DEPTH` deep.
 *
 * One pass over the text, with an explicit stack: it runs before `JSON.parse`, so 100,000 levels of `[` never
 * recurse. It does not check syntax: on anything that is not JSON it stops and returns `undefined`, leaving the
 * parser to report the error. Pointers are RFC 6901 JSON pointers into the text.
 *
 * @param envelope how many arrays or objects wrap the value in the text (1 for a request body `{"value": …}`).
 */
export function describeUnstorableJson(text: string, { envelope = 0 }: { envelope?: number } = {}): string | undefined {
  const maxDepth = MAX_VALUE_DEPTH + envelope;
  const stack: Frame[] = [];
  // A byte order mark is not JSON, but parsers (Fastify's among them) skip one at the start: so must this scan,
  // or whatever follows it would pass unchecked.
  let i = text.charCodeAt(0) === BYTE_ORDER_MARK ? 1 : 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (stack.length >= maxDepth) {
        return `the value is nested too deeply ${where(stack)}: arrays and objects may nest at most ${MAX_VALUE_DEPTH} levels deep`;
      }
      stack.push(
        c === OPEN_ARRAY ? { array: true, index: 0 } : { array: false, name: '', expectName: true, names: new Set() },
      );
      i++;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      stack.pop();
      i++;
    } else if (c === COMMA) {
      const top = stack.at(-1);
      if (top?.array) top.index++;
      else if (top) top.expectName = true;
      i++;
    } else if (c === QUOTE) {
      const end = closingQuote(text, i);
      if (end < 0) return undefined;
      const token = text.slice(i, end + 1);
      const top = stack.at(-1);
      if (top && !top.array && top.expectName) {
        const name = decodeString(token);
        if (name === undefined) return undefined;
        top.expectName = false;
        top.name = name;
        const problem = describeBadString(name);
        if (problem) return `the member name ${where(stack)} ${problem}`;
        if (top.names.has(name)) {
          return `the member name ${JSON.stringify(name)} appears twice in the object ${where(stack.slice(0, -1))}; an object keeps one value per name`;
        }
        top.names.add(name);
      } else if (MAY_BE_UNSTORABLE.test(token)) {
        // Only a \u escape or a raw surrogate can make a string unstorable; most strings are passed over as they are.
        const value = decodeString(token);
        if (value === undefined) return undefined;
        const problem = describeBadString(value);
        if (problem) return `the string ${where(stack)} ${problem}`;
      }
      i = end + 1;
    } else if (c === MINUS || (c >= DIGIT_0 && c <= DIGIT_9)) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0];
      if (!token) return undefined;
      const problem = describeInexactNumber(token);
      if (problem) return `the number ${shorten(token)} ${where(stack)} ${problem}`;
      i += token.length;
    } else if (c === COLON || c === SPACE || c === TAB || c === LF || c === CR || (c >= LOWER_A && c <= LOWER_Z)) {
      // Separators, whitespace and the letters of true, false and null.
      i++;
    } else {
      return undefined;
    }
  }
  return undefined;
}

type Frame = { array: true; index: number } | { array: false; name: string; expectName: boolean; names: Set<string> };

const [OPEN_ARRAY, CLOSE_ARRAY, OPEN_OBJECT, CLOSE_OBJECT, COMMA, COLON, QUOTE, BACKSLASH, MINUS] = [
  ...'[]{},:"\\-',
].map((s) => s.charCodeAt(0));
const [SPACE, TAB, LF, CR, DIGIT_0, DIGIT_9, LOWER_A, LOWER_Z] = [...' \t\n\r09az'].map((s) => s.charCodeAt(0));
const BYTE_ORDER_MARK = 0xfeff;

const MAY_BE_UNSTORABLE = /\\u|[\ud800-\udfff]/;
/** RFC 8259's number grammar, matched where a number starts. */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
/**
 * A decimal of at most 15 digits without an exponent reads back as itself: a double tells apart every decimal
 * of 15 significant digits (DBL_DIG), and without an exponent such a number cannot underflow or overflow.
 * That is the common case, and needs no further work.
 */
const SHORT_DECIMAL = /^-?(?=(?:\.?\d){1,15}$)\d+(?:\.\d+)?$/;
const NUMBER_PARTS = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

function describeInexactNumber(token: string): string | undefined {
  if (SHORT_DECIMAL.test(token)) return undefined;
  const double = Number(token);
  if (!Number.isFinite(double)) {
    return `is out of range: keyflow stores numbers as IEEE 754 doubles, whose magnitude is at most ${Number.MAX_VALUE}`;
  }
  // What is stored, and read back, is the shortest decimal that identifies the double (JSON.stringify's text).
  // Clients that serialise doubles send exactly that text; anything else is compared by decimal value.
  const stored = JSON.stringify(double);
  if (token === stored || decimalOf(token) === decimalOf(stored)) return undefined;
  return (
    `cannot be stored exactly: keyflow stores numbers as IEEE 754 doubles and it would read back as ${stored} ` +
    '(send it as a string to keep every digit)'
  );
}

/** A number's decimal value in one spelling: sign, significant digits without trailing zeros, exponent. */
function decimalOf(number: string): string {
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = NUMBER_PARTS.exec(number) ?? [];
  const digits = whole + fraction;
  const first = digits.search(/[1-9]/);
  if (first < 0) return '0';
  let end = digits.length;
  while (digits.charCodeAt(end - 1) === DIGIT_0) end--;
  // Only reached for a finite, non-zero double, whose exponent is small enough for a Number to hold exactly.
  return `${sign}${digits.slice(first, end)}e${Number(exponent) - fraction.length + (digits.length - end)}`;
}

function describeBadString(s: string): string | undefined {
  if (s.includes('\u0000')) return 'contains U+0000 (the NUL character), which keyflow cannot store';
  if (!s.isWellFormed()) {
    return 'contains a lone UTF-16 surrogate (such as \\ud800 without its pair), which is not Unicode text';
  }
  return undefined;
}

/** The index of the quote that closes the string opening at `start`, or -1. */
function closingQuote(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

/** A string token's text, escapes resolved; `undefined` when it is not a valid JSON string. */
function decodeString(token: string): string | undefined {
  if (!token.includes('\\')) return token.slice(1, -1);
  try {
    return JSON.parse(token) as string;
  } catch {
    return undefined;
  }
}

const MAX_SHOWN = 200;

function shorten(text: string, max = 24): string {
  return text.length > max + 16 ? `${text.slice(0, max)}… (${text.length} characters)` : text;
}

/** "at /a/0" for the position the stack points at, or "at the top level". */
function where(stack: readonly Frame[]): string {
  if (stack.length === 0) return 'at the top level';
  const pointer = stack
    .map((frame) => `/${frame.array ? frame.index : frame.name.replaceAll('~', '~0').replaceAll('/', '~1')}`)
    .join('');
  return `at ${pointer.length > MAX_SHOWN ? `${pointer.slice(0, MAX_SHOWN)}…` : pointer}`;
}
