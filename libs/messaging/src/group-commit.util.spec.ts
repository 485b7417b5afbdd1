import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GROUP_COMMIT,
  GroupCommitter,
  GroupCommitTimeoutError,
  type GroupCommitOptions,
} from './group-commit.util';

/** A send whose every call waits until the test settles it. */
function controlledSend() {
  const calls: Array<{ lane: number; items: string[]; resolve: () => void; reject: (err: Error) => void }> = [];
  const send = (lane: number, items: string[]) =>
    new Promise<void>((resolve, reject) => calls.push({ lane, items, resolve, reject }));
  return { calls, send };
}

const tick = () => new Promise((r) => setImmediate(r));

function committer(send: (lane: number, items: string[]) => Promise<void>, options: Partial<GroupCommitOptions> = {}) {
  return new GroupCommitter<string>(send, { ...DEFAULT_GROUP_COMMIT, ...options });
}

describe(GroupCommitter.name, () => {
  it('should send a lone item at once, alone', async () => {
    const { calls, send } = controlledSend();
    const done = committer(send).submit(0, 'a', 1);
    expect(calls.map((c) => c.items)).toEqual([['a']]);
    calls[0]?.resolve();
    await expect(done).resolves.toBeUndefined();
  });

  it('should group what arrives while a send is in flight, in order, and send it when that send returns', async () => {
    const { calls, send } = controlledSend();
    const gc = committer(send);
    const results = ['a', 'b', 'c', 'd'].map((item) => gc.submit(0, item, 1));
    expect(calls.map((c) => c.items)).toEqual([['a']]);
    calls[0]?.resolve();
    await tick();
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b', 'c', 'd']]);
    calls[1]?.resolve();
    await Promise.all(results);
    expect(gc.stats()).toEqual({ groups: 2, items: 4, largestGroup: 3 });
  });

  it('should keep lanes apart: one lane in flight does not hold another back', () => {
    const { calls, send } = controlledSend();
    const gc = committer(send);
    void gc.submit(0, 'a', 1);
    void gc.submit(1, 'b', 1);
    void gc.submit(0, 'c', 1);
    expect(calls.map((c) => [c.lane, c.items])).toEqual([
      [0, ['a']],
      [1, ['b']],
    ]);
  });

  it('should give every item its own group outcome: a failed send fails only its own group', async () => {
    const { calls, send } = controlledSend();
    const gc = committer(send);
    const first = gc.submit(0, 'a', 1);
    const second = [gc.submit(0, 'b', 1), gc.submit(0, 'c', 1)];
    calls[0]?.reject(new Error('no confirm'));
    await expect(first).rejects.toThrow('no confirm');
    await tick();
    calls[1]?.resolve();
    await expect(Promise.all(second)).resolves.toEqual([undefined, undefined]);
  });

  it('should cap a group by items and by bytes, and still send an item larger than the byte cap, alone', async () => {
    const { calls, send } = controlledSend();
    const gc = committer(send, { maxItems: 2, maxBytes: 10 });
    void gc.submit(0, 'first', 1);
    for (const [item, bytes] of [
      ['a', 4],
      ['b', 4],
      ['c', 4],
      ['huge', 50],
      ['d', 1],
    ] as const) {
      void gc.submit(0, item, bytes);
    }
    for (let i = 0; i < 4; i++) {
      calls[i]?.resolve();
      await tick();
    }
    expect(calls.map((c) => c.items)).toEqual([['first'], ['a', 'b'], ['c'], ['huge'], ['d']]);
  });

  it('should refuse, unsent, an item that waited longer than maxWaitMs behind a send that does not return', async () => {
    let now = 0;
    const { calls, send } = controlledSend();
    const gc = new GroupCommitter<string>(send, { ...DEFAULT_GROUP_COMMIT, maxWaitMs: 100 }, () => now);
    void gc.submit(0, 'stuck', 1);
    const late = gc.submit(0, 'late', 1);
    now = 150;
    const fresh = gc.submit(0, 'fresh', 1);
    calls[0]?.resolve();
    await expect(late).rejects.toBeInstanceOf(GroupCommitTimeoutError);
    await tick();
    expect(calls.map((c) => c.items)).toEqual([['stuck'], ['fresh']]);
    calls[1]?.resolve();
    await expect(fresh).resolves.toBeUndefined();
  });

  it('should keep at most maxInFlightTotal groups out across lanes, then send the lane that waited longest', async () => {
    const { calls, send } = controlledSend();
    const gc = committer(send, { maxInFlightTotal: 2 });
    for (const [lane, item] of [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
      [2, 'e'],
      [0, 'f'],
    ] as const) {
      void gc.submit(lane, item, 1);
    }
    expect(calls.map((c) => [c.lane, c.items])).toEqual([
      [0, ['a']],
      [1, ['b']],
    ]);
    calls[1]?.resolve();
    await tick();
    // Lane 2 waited longest (c), and takes what arrived for it meanwhile (e).
    expect(calls.slice(2).map((c) => [c.lane, c.items])).toEqual([[2, ['c', 'e']]]);
    calls[0]?.resolve();
    await tick();
    expect(calls.slice(3).map((c) => [c.lane, c.items])).toEqual([[3, ['d']]]);
  });

  it('should allow more groups of a lane in flight when maxInFlight says so', () => {
    const { calls, send } = controlledSend();
    const gc = committer(send, { maxInFlight: 2 });
    for (const item of ['a', 'b', 'c']) void gc.submit(0, item, 1);
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b']]);
  });
});
