import { expect } from 'vitest';

/** The RFC 9457 document an API error answers, for whole-body assertions; only `requestId` varies per request. */
export function problem(status: number, type: string, title: string, detail: unknown, instance: string) {
  return {
    type: `https://keyflow.dev/problems/${type}`,
    title,
    status,
    detail,
    instance,
    requestId: expect.any(String),
  };
}
