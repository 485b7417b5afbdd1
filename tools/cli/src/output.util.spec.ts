import { describe, expect, it } from 'vitest';
import { count, formatEntry, formatEvent, formatListItem, formatProblem, formatWrite, Progress } from './output.util';

const entry = { key: 'user:42', value: { name: 'Ada' }, version: 3, updatedAt: '2026-11-23T10:15:30.123Z' };

describe('output', () => {
  it('should print an entry for people and as JSON', () => {
    expect(formatEntry(entry, false)).toBe(
      'user:42  (version 3, updated 2026-11-23T10:15:30.123Z)\n{\n  "name": "Ada"\n}',
    );
    expect(formatEntry({ ...entry, expiresAt: '2026-11-23T11:00:00.000Z' }, false)).toContain(
      ', expires 2026-11-23T11:00:00.000Z)',
    );
    expect(JSON.parse(formatEntry(entry, true))).toEqual(entry);
  });

  it('should print listed keys on one line each, values cut to a line', () => {
    expect(formatListItem(entry, false)).toBe('user:42  v3  {"name":"Ada"}');
    expect(formatListItem({ key: 'k', version: 1 }, false)).toBe('k  v1');
    expect(formatListItem({ key: 'k', version: 1, value: 'x'.repeat(200) }, false)).toHaveLength(
      'k  v1  '.length + 100,
    );
    expect(formatListItem({ key: 'k', version: 1, value: null }, false)).toBe('k  v1  null');
    expect(formatListItem(entry, true)).toBe(JSON.stringify(entry));
  });

  it('should say what a write did', () => {
    const accepted = { status: 'accepted', operationId: 'op-1', key: 'k' } as const;
    expect(formatWrite(accepted, false)).toBe('accepted: k (operation op-1; --wait <s> to wait until it is applied)');
    const applied = { status: 'applied', operationId: 'op-2', key: 'k', version: 4, created: false } as const;
    expect(formatWrite({ ...applied, version: 1, created: true }, false)).toBe('created: k at version 1');
    expect(formatWrite(applied, false)).toBe('applied: k at version 4');
    expect(formatWrite({ status: 'deleted', key: 'k' }, false)).toBe('deleted: k');
    // As JSON: what the API answered.
    expect(JSON.parse(formatWrite(accepted, true))).toEqual({ operationId: 'op-1', key: 'k', status: 'accepted' });
    expect(JSON.parse(formatWrite(applied, true))).toEqual({
      operationId: 'op-2',
      key: 'k',
      status: 'applied',
      version: 4,
    });
    expect(formatWrite({ status: 'deleted', key: 'k' }, true)).toBe('{"key":"k","status":"applied"}');
  });

  it('should print watch events', () => {
    const put = { kind: 'put', revision: 5, key: 'k', version: 2, value: [1], updatedAt: entry.updatedAt } as const;
    expect(formatEvent(put, false)).toBe('put k v2 [1]');
    expect(formatEvent({ kind: 'expire', revision: 6, key: 'k', version: 3, updatedAt: entry.updatedAt }, false)).toBe(
      'expire k v3',
    );
    expect(JSON.parse(formatEvent(put, true))).toEqual({
      event: 'put',
      revision: 5,
      key: 'k',
      version: 2,
      value: [1],
      updatedAt: entry.updatedAt,
    });
    // A put of null prints its value.
    expect(formatEvent({ ...put, value: null }, false)).toBe('put k v2 null');
  });

  it('should print a problem with its detail and status', () => {
    const problem = {
      type: 'about:blank',
      status: 404,
      title: 'Key not found',
      detail: 'no value is stored under key "k"',
    };
    expect(formatProblem(problem, false)).toBe('keyflow: no value is stored under key "k" (HTTP 404 Key not found)');
    expect(JSON.parse(formatProblem(problem, true))).toEqual(problem);
  });
});

describe(Progress.name, () => {
  it('should report every N items and at the end, with the rate', () => {
    const lines: string[] = [];
    let now = 0;
    const progress = new Progress(
      'export',
      { out: () => undefined, err: (l) => lines.push(l) },
      {
        every: 1000,
        total: 2500,
        now: () => now,
      },
    );
    now = 1000;
    progress.add(999);
    progress.add(2);
    now = 2000;
    progress.add(1499);
    progress.finish(' keys');
    expect(lines).toEqual([
      'export: 1,001 of 2,500 (1,001/s)',
      'export: 2,500 of 2,500 (1,250/s)',
      'export: 2,500 in 2.0 s (1,250/s) keys',
    ]);
    expect(count(1234567)).toBe('1,234,567');
  });

  it('should say nothing when quiet', () => {
    const lines: string[] = [];
    const progress = new Progress(
      'import',
      { out: () => undefined, err: (l) => lines.push(l) },
      { every: 1, quiet: true },
    );
    progress.add(5);
    progress.finish();
    expect(lines).toEqual([]);
  });
});
