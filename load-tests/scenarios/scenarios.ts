/**
 * Everything about the load scenarios in one import, for the Node runner (`load-tests/runner`) and the specs:
 * the definitions (`scenario-definitions.ts`), their types (`scenario.dto.ts`) and the HTTP contract the load
 * drives (`kv-request.util.ts`).
 *
 * The k6 scripts import those files directly instead: k6 loads TypeScript modules as they are and finds a value
 * import only by its exact file name (`./x.ts`), which the Node runner's type check refuses. So the modules here
 * import only types from each other, and this one, which re-exports values, is never loaded by k6.
 */
export * from './kv-request.util';
export * from './scenario-definitions';
export type * from './scenario.dto';
