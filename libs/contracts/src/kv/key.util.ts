import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from './kv.constant';

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** Returns why `key` is not acceptable, or `undefined` when it is. */
export function describeInvalidKey(key: string): string | undefined {
  if (key.length === 0) return 'the key is empty; it must be 1 to 512 bytes of UTF-8';
  if (/[\ud800-\udfff]/.test(key) && !key.isWellFormed()) return 'the key is not well-formed UTF-8';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_KEY_BYTES) return `the key is ${bytes} bytes of UTF-8; the limit is ${MAX_KEY_BYTES}`;
  if (CONTROL_CHARACTERS.test(key)) return 'the key contains a control character';
  return undefined;
}

/** Serialises a value and returns why it is not acceptable, or its JSON text. */
export function serialiseValue(value: unknown): { json: string } | { tooLarge: number } {
  const json = JSON.stringify(value);
  const bytes = Buffer.byteLength(json, 'utf8');
  return bytes > MAX_VALUE_BYTES ? { tooLarge: bytes } : { json };
}
