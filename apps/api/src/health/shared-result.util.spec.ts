import { describe, expect, it, vi } from 'vitest';
import { sharedFor } from './shared-result.util';

describe(sharedFor.name, () => {
  it('should run the work once per period for any number of callers, failures included', async () => {
    let clock = 0;
    let n = 0;
    const work = vi.fn(() => (++n === 2 ? Promise.reject(new Error('down')) : Promise.resolve(n)));
    const shared = sharedFor(1_000, work, () => clock);
    expect(await Promise.all([shared(), shared(), shared()])).toEqual([1, 1, 1]);
    clock = 999;
    expect(await shared()).toBe(1);
    clock = 1_000;
    await expect(shared()).rejects.toThrow('down');
    await expect(shared()).rejects.toThrow('down');
    clock = 2_000;
    expect(await shared()).toBe(3);
    expect(work).toHaveBeenCalledTimes(3);
  });
});
