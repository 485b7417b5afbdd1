import { describe, expect, it } from 'vitest';
import { ChangeDeduper, REDO_LOOKBACK_MS } from './change-dedupe.util';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0 + ms).toISOString();

function change(key: string, version: number, redo = false, updatedAtMs = 0) {
  return { key, version, redo, updatedAt: at(updatedAtMs) };
}

/** What a watcher with this deduper delivers of a stream, looking back into `stream` itself when asked to. */
function deliver(deduper: ChangeDeduper, stream: ReturnType<typeof change>[], from: number): string[] {
  const delivered: string[] = [];
  for (let i = from; i < stream.length; i++) {
    const c = stream[i];
    let decision = deduper.decide(c);
    if (decision.action === 'look-back') {
      const generation = deduper.generation;
      // The whole stream before it is in the window here (every updatedAt is T0).
      for (const earlier of stream.slice(0, i)) deduper.observe(earlier);
      expect(deduper.coveredFrom(decision.fromMs, generation)).toBe(true);
      decision = deduper.decide(c);
    }
    deduper.observe(c);
    if (decision.action === 'deliver') delivered.push(`${c.key}@${c.version}@${i}`);
  }
  return delivered;
}

describe(ChangeDeduper.name, () => {
  describe('decide', () => {
    it('should deliver first copies and drop a redo copy of a change it saw', () => {
      const deduper = new ChangeDeduper(T0 - REDO_LOOKBACK_MS);
      expect(deduper.decide(change('k', 1))).toEqual({ action: 'deliver' });
      deduper.observe(change('k', 1));
      expect(deduper.decide(change('k', 1, true))).toEqual({ action: 'drop' });
      expect(deduper.decide(change('k', 2, true))).toEqual({ action: 'deliver' });
      expect(deduper.decide(change('other', 1, true))).toEqual({ action: 'deliver' });
    });

    it('should ask to look back for a redo change whose first copy may precede what it has seen', () => {
      const deduper = new ChangeDeduper(Infinity);
      expect(deduper.decide(change('k', 3))).toEqual({ action: 'deliver' });
      expect(deduper.decide(change('k', 3, true, 5_000))).toEqual({
        action: 'look-back',
        fromMs: T0 + 5_000 - REDO_LOOKBACK_MS,
      });
    });

    it('should never deliver a version at or below one it saw, so versions per key always rise', () => {
      const deduper = new ChangeDeduper(T0);
      deduper.observe(change('k', 5));
      expect(deduper.decide(change('k', 4))).toEqual({ action: 'drop' });
      expect(deduper.decide(change('k', 5))).toEqual({ action: 'drop' });
    });
  });

  it('should deliver the same changes after any revision as a watcher that saw the stream from the start', () => {
    // A worker died after publishing k@2 and k@3 but before its ack: the next one published them again (redo),
    // then went on with k@4. And one died before publishing j@1: its redo copy is the only one.
    const stream = [
      change('k', 1),
      change('k', 2),
      change('k', 3),
      change('k', 2, true),
      change('j', 1, true),
      change('k', 3, true),
      change('k', 4),
      change('j', 2),
    ];
    const whole = deliver(new ChangeDeduper(T0 - REDO_LOOKBACK_MS), stream, 0);
    expect(whole).toEqual(['k@1@0', 'k@2@1', 'k@3@2', 'j@1@4', 'k@4@6', 'j@2@7']);

    for (let from = 1; from < stream.length; from++) {
      const resumed = deliver(new ChangeDeduper(Infinity), stream, from);
      expect(resumed, `resumed at ${from}`).toEqual(whole.filter((d) => Number(d.split('@')[2]) >= from));
    }
  });

  it('should forget everything, and its coverage, beyond its key limit, and say a look-back then covers nothing', () => {
    const deduper = new ChangeDeduper(T0 - REDO_LOOKBACK_MS, 2);
    deduper.observe(change('a', 1));
    deduper.observe(change('b', 1));
    const generation = deduper.generation;
    deduper.observe(change('c', 1));

    expect(deduper.decide(change('a', 1, true))).toMatchObject({ action: 'look-back' });
    expect(deduper.coveredFrom(T0 - REDO_LOOKBACK_MS, generation)).toBe(false);
  });
});
