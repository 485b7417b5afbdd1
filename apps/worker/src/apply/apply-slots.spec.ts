import { describe, expect, it } from 'vitest';
import { ApplySlots } from './apply-slots';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe(ApplySlots.name, () => {
  it('should run at most `limit` tasks at once and start the waiting ones in arrival order', async () => {
    const slots = new ApplySlots(2);
    const started: number[] = [];
    const finish: Array<() => void> = [];
    const tasks = [0, 1, 2, 3].map((i) =>
      slots.run(async () => {
        started.push(i);
        await new Promise<void>((resolve) => (finish[i] = resolve));
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect(slots.queued).toBe(2);
    finish[1]?.();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    finish[0]?.();
    finish[2]?.();
    await tick();
    finish[3]?.();
    expect(await Promise.all(tasks)).toEqual([0, 1, 2, 3]);
    expect(slots.queued).toBe(0);
  });

  it('should free the slot when a task fails', async () => {
    const slots = new ApplySlots(1);
    await expect(slots.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(slots.run(() => Promise.resolve('next'))).resolves.toBe('next');
  });

  it('should refuse a limit below one', () => {
    expect(() => new ApplySlots(0)).toThrow('apply slots must be a whole number ≥ 1, not 0');
  });
});
