import { describe, expect, it } from 'vitest';
import { randomUuid } from './client';

describe(randomUuid.name, () => {
  const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

  it('should use crypto.randomUUID where there is one', () => {
    expect(
      randomUuid({ randomUUID: () => '00000000-0000-4000-8000-000000000000', getRandomValues: (a: Uint8Array) => a }),
    ).toBe('00000000-0000-4000-8000-000000000000');
  });

  it('should make a v4 UUID from getRandomValues alone (a browser page outside a secure context)', () => {
    const onlyRandomValues = { getRandomValues: (a: Uint8Array): Uint8Array => globalThis.crypto.getRandomValues(a) };
    const ids = new Set(Array.from({ length: 100 }, () => randomUuid(onlyRandomValues)));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    const zeros = { getRandomValues: (a: Uint8Array): Uint8Array => a };
    expect(randomUuid(zeros)).toBe('00000000-0000-4000-8000-000000000000');
  });
});
