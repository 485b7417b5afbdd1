/**
 * The HTTP contract as the load sees it: which request each operation of the mix sends, which statuses count as
 * success, how values and keys are built and read back. Both runners send exactly these requests.
 *
 * Like every module here that k6 loads, it imports only types: k6 needs a value import's exact file name
 * (`./x.ts`), which the Node runner's type check refuses (see `scenarios.ts`).
 */
import type { ScenarioDefinition } from './scenario.dto';

export type Operation = 'get' | 'put' | 'delete';
export const OPERATIONS: readonly Operation[] = ['get', 'put', 'delete'];

/** `v1`: the keyflow API (`/v1/kv/{key}`); `store`: the reference-store compatible routes (`/store`). */
export type ApiStyle = 'v1' | 'store';

export interface RequestSpec {
  method: 'GET' | 'PUT' | 'DELETE';
  path: string;
  body?: string;
  /** Statuses that count as success for this request. */
  expectedStatuses: number[];
}

/** Builds the request for one operation of the mix against `api`. `mayMiss`: a GET may find the key deleted. */
export function requestFor(api: ApiStyle, op: Operation, key: string, value: string, mayMiss: boolean): RequestSpec {
  const k = encodeURIComponent(key);
  switch (op) {
    case 'get':
      return {
        method: 'GET',
        path: api === 'v1' ? `/v1/kv/${k}` : `/store/${k}`,
        expectedStatuses: mayMiss ? [200, 404] : [200],
      };
    case 'put':
      return api === 'v1'
        ? { method: 'PUT', path: `/v1/kv/${k}`, body: JSON.stringify({ value }), expectedStatuses: [202] }
        : { method: 'PUT', path: '/store', body: JSON.stringify({ key, value }), expectedStatuses: [200] };
    case 'delete':
      return { method: 'DELETE', path: api === 'v1' ? `/v1/kv/${k}` : `/store/${k}`, expectedStatuses: [202] };
  }
}

/** Setup pre-writes the key space only when the mix reads it; a PUT-only mix needs no existing keys. */
export function needsPrewrite(scenario: ScenarioDefinition): boolean {
  return scenario.mix.get > 0 || scenario.mix.delete > 0;
}

/** True when GETs of the mix may legitimately find a key missing (the mix deletes keys). */
export function getMayMiss(scenario: ScenarioDefinition): boolean {
  return scenario.mix.delete > 0;
}

/** Extracts the stored value from a GET response body of either API style (both answer `{"value": …}`). */
export function valueOf(body: string): unknown {
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === 'object' && parsed !== null && 'value' in parsed ? parsed.value : undefined;
  } catch {
    return undefined;
  }
}

/** A value of exactly `size` characters that starts with `tag`, so a reader can tell which write it sees. */
export function makeValue(tag: string, size: number): string {
  return tag.length >= size ? tag : tag + '.'.repeat(size - tag.length);
}

export function dataKey(prefix: string, index: number): string {
  return `${prefix}-k${index}`;
}

export function visibilityKey(prefix: string, writer: string, seq: number): string {
  return `${prefix}-vis-${writer}-${seq}`;
}

export function drainKey(prefix: string, index: number): string {
  return `${prefix}-drain-${index}`;
}

/** Picks an operation by weight; `random` is uniform in [0, 1). */
export function pickOperation(mix: Record<Operation, number>, random: number): Operation {
  const total = OPERATIONS.reduce((sum, op) => sum + mix[op], 0);
  let point = random * total;
  for (const op of OPERATIONS) {
    if (mix[op] <= 0) continue;
    if (point < mix[op]) return op;
    point -= mix[op];
  }
  const last = [...OPERATIONS].reverse().find((op) => mix[op] > 0);
  if (last === undefined) throw new Error('the operation mix has no positive weight');
  return last;
}
