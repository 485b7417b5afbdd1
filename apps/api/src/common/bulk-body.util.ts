import { describeUnstorableJson } from '@keyflow/contracts';

/** The bulk write route (`POST /v1/kv`), the one route whose bodies may be larger than a single write's. */
export const BULK_ROUTE = { method: 'POST', url: '/v1/kv' } as const;

/** Largest bulk write body: 1,000 operations, up to 8 MiB in all (each value still at most 1 MiB). */
export const BULK_BODY_LIMIT = 8 * 1024 * 1024;

/** `{"operations":[{…,"value": …}]}`: the value sits inside three arrays or objects. */
const BULK_ENVELOPE = 3;

const IN_OPERATION = / at \/operations\/(\d+)/;

/**
 * What keyflow cannot store faithfully in a bulk body (`describeUnstorableJson`), said the way a single
 * `PUT /v1/kv/{key}` says it, prefixed by the operation's index: a single write's body is `{"value": …}`, and so is
 * the operation's object around its value, so a pointer relative to the operation reads the same. For example
 * `operations[7]: the number 12345678901234567890123 at /value cannot be stored exactly: …`.
 */
export function describeUnstorableBulkBody(text: string): string | undefined {
  const problem = describeUnstorableJson(text, { envelope: BULK_ENVELOPE });
  if (problem === undefined) return undefined;
  // Messages end with "at <JSON pointer>" and what follows it; only a pathological member name could contain this.
  const match = IN_OPERATION.exec(problem);
  if (!match) return problem;
  const rest = problem.slice(match.index + match[0].length);
  const where = rest.startsWith('/') ? ` at ${rest}` : ` at the top level${rest}`;
  return `operations[${match[1] ?? ''}]: ${problem.slice(0, match.index)}${where}`;
}
