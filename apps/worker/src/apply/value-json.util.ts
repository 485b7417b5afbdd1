import type { WriteMessage } from '@keyflow/contracts';

const serialised = new WeakMap<WriteMessage, string>();

/**
 * A put's value as the JSON text the database stores and the change stream carries, serialised once per write: the
 * applier and the change publisher both need it, and a value may be 1 MiB.
 */
export function valueJsonOf(message: WriteMessage): string {
  let text = serialised.get(message);
  if (text === undefined) {
    text = JSON.stringify(message.value ?? null);
    serialised.set(message, text);
  }
  return text;
}
