import { describe, expect, it } from 'vitest';
import { encodeChange, type Change } from '@keyflow/contracts';
import { decodeChangeHead } from '@keyflow/contracts';
import { ChangeDeduper } from './change-dedupe.util';
import type { ChangeStreamReader, StreamMessage, StreamStart } from './change-stream.reader';
import { WatchSession, type WatchSink } from './watch-session';

const AT = '2026-12-01T10:00:00.000Z';

function message(
  offset: number,
  change: Partial<Change> & { key: string; version: number },
  redo = false,
): StreamMessage {
  const full: Change = { kind: 'put', valueJson: String(change.version), updatedAt: AT, ...change };
  const { headers, content } = encodeChange(full, redo);
  return { offset, head: decodeChangeHead(headers), content };
}

/** A stream in memory: `subscribe` hands out its messages from the start asked for, `readBack` the ones before. */
class FakeReader {
  starts: StreamStart[] = [];
  readBacks: Array<[number, number]> = [];
  acked: number[] = [];
  closed = false;
  private deliver?: (message: StreamMessage, ack: () => void) => void;

  constructor(readonly stream: StreamMessage[]) {}

  subscribe(start: StreamStart, onMessage: (message: StreamMessage, ack: () => void) => void) {
    this.starts.push(start);
    this.deliver = onMessage;
    return Promise.resolve({ close: () => Promise.resolve(void (this.closed = true)) });
  }

  /** Delivers the stream's messages from `offset` on (or `from` the first of a chunk before it). */
  push(...messages: StreamMessage[]): void {
    for (const m of messages) this.deliver?.(m, () => this.acked.push(m.offset));
  }

  readBack(fromMs: number, beforeOffset: number, onMessage: (m: StreamMessage) => void): Promise<void> {
    this.readBacks.push([fromMs, beforeOffset]);
    for (const m of this.stream.filter((s) => s.offset < beforeOffset)) onMessage(m);
    return Promise.resolve();
  }
}

function sink() {
  const frames: string[] = [];
  let ended = false;
  const value: WatchSink & { frames: string[]; ended: () => boolean } = {
    frames,
    ended: () => ended,
    write: (frame) => Promise.resolve(void frames.push(frame)),
    end: () => void (ended = true),
  };
  return value;
}

const ids = (frames: string[]) => frames.map((f) => /^id: (\d+)$/m.exec(f)?.[1]);
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

async function session(reader: FakeReader, prefix: string, after?: number) {
  const s = new WatchSession(
    reader as unknown as ChangeStreamReader,
    new ChangeDeduper(after === undefined ? 0 : Infinity),
    {
      prefix,
      after,
      lookBackTimeoutMs: 1_000,
    },
  );
  await s.start();
  return s;
}

describe(WatchSession.name, () => {
  it('should start at the next change without a revision, and at the change after it with one', async () => {
    const reader = new FakeReader([]);
    await session(reader, '');
    await session(reader, '', 41);
    expect(reader.starts).toEqual(['next', { offset: 41 }]);
  });

  it('should hold deliveries until attached, then write those under the prefix in order, acking each after it', async () => {
    const reader = new FakeReader([]);
    const s = await session(reader, 'a:');
    reader.push(
      message(0, { key: 'a:1', version: 1 }),
      message(1, { key: 'b:1', version: 1 }),
      message(2, { key: 'a:1', version: 2 }),
    );
    await settle();
    expect(reader.acked).toEqual([]);

    const out = sink();
    s.attach(out);
    await settle();
    expect(ids(out.frames)).toEqual(['1', '3']);
    expect(reader.acked).toEqual([0, 1, 2]);
  });

  it('should skip what precedes its resume point in the first chunk, and end at a gap after it', async () => {
    const reader = new FakeReader([]);
    const s = await session(reader, '', 5);
    const out = sink();
    s.attach(out);
    reader.push(
      message(3, { key: 'k', version: 1 }),
      message(4, { key: 'k', version: 2 }),
      message(5, { key: 'k', version: 3 }),
    );
    await settle();
    expect(ids(out.frames)).toEqual(['6']);

    const gap = await session(reader, '', 5);
    const ends: string[] = [];
    gap.onEnd((reason) => ends.push(reason));
    const out2 = sink();
    gap.attach(out2);
    reader.push(message(7, { key: 'k', version: 5 }));
    await settle();
    expect(out2.frames).toEqual([]);
    expect(out2.ended()).toBe(true);
    expect(ends).toEqual(['the stream no longer holds revision 6; resume to get a 410']);
  });

  it('should look back for a redo change on a resumed watch, and leave it out when the stream has it already', async () => {
    const stream = [
      message(0, { key: 'k', version: 1 }),
      message(1, { key: 'k', version: 1 }, true),
      message(2, { key: 'k', version: 2 }, true),
    ];
    const reader = new FakeReader(stream);
    const s = await session(reader, '', 0 + 1);
    const out = sink();
    s.attach(out);
    reader.push(...stream.slice(1));
    await settle();

    expect(ids(out.frames)).toEqual(['3']);
    expect(reader.readBacks).toEqual([[Date.parse(AT) - 60_000, 1]]);
  });

  it('should wait for the client to take a frame before it writes the next, and stop at close', async () => {
    const reader = new FakeReader([]);
    const s = await session(reader, '');
    let release!: () => void;
    const frames: string[] = [];
    s.attach({
      write: (frame) => new Promise<void>((resolve) => (frames.push(frame), (release = resolve))),
      end: () => undefined,
    });
    reader.push(message(0, { key: 'k', version: 1 }), message(1, { key: 'k', version: 2 }));
    await settle();
    expect(frames).toHaveLength(1);
    expect(reader.acked).toEqual([]);
    release();
    await settle();
    expect(frames).toHaveLength(2);
    expect(reader.acked).toEqual([0]);

    s.close('done');
    release();
    await settle();
    expect(reader.closed).toBe(true);
  });
});
