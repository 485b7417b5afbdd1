/**
 * The OpenAPI schema of a stored value: any JSON value. Without it the document says `type: object` (what
 * `unknown` reflects as), and a client generator types `"text"`, `42` or `null` as invalid. OpenAPI 3.0 has no
 * `null` type: the object branch is nullable, so null matches exactly one branch of the `oneOf`.
 */
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';

export const ANY_JSON_VALUE: { oneOf: SchemaObject[] } = {
  oneOf: [
    { type: 'object', nullable: true, additionalProperties: true },
    { type: 'array', items: {} },
    { type: 'string' },
    { type: 'number' },
    { type: 'boolean' },
  ],
};
