import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBackupLines, inFileTerms, readLines, restoreChunks, type NumberedLine } from './backup-file.util';

const dir = mkdtempSync(join(tmpdir(), 'keyflow-cli-backup-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const line = (key: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ key, value: { key }, version: 1, updatedAt: '2026-11-23T10:15:30.123Z', ...extra });

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function lines(...texts: string[]): AsyncIterable<NumberedLine> {
  return (async function* () {
    for (const [i, text] of texts.entries()) yield await Promise.resolve({ number: i + 1, text });
  })();
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe(readLines.name, () => {
  it('should number LF and CRLF lines from 1 and not invent a last empty line', async () => {
    expect(await all(readLines(file('crlf.jsonl', 'a\r\nb\n\nc\n')))).toEqual([
      { number: 1, text: 'a' },
      { number: 2, text: 'b' },
      { number: 3, text: '' },
      { number: 4, text: 'c' },
    ]);
  });

  it('should say which file it cannot read', async () => {
    await expect(all(readLines(join(dir, 'missing.jsonl')))).rejects.toThrow(
      `cannot read ${join(dir, 'missing.jsonl')}: ENOENT`,
    );
  });
});

describe(checkBackupLines.name, () => {
  it('should count the lines of a good backup', async () => {
    expect(await checkBackupLines(lines(line('a'), line('b', { expiresAt: '2026-11-23T11:00:00Z' })), 'd.jsonl')).toBe(
      2,
    );
  });

  it.each([
    [[line('a'), '', line('c')], 'd.jsonl line 2: the line is empty'],
    [[line('a'), line('b'), '{"key":'], 'd.jsonl line 3: the line is not JSON'],
    [[line('a'), line('b', { version: -1 })], 'd.jsonl line 2: version must be an integer of at least 1'],
    [[line('a'), line('b'), line('a')], 'd.jsonl line 3: the key "a" is already on line 1'],
    [
      [line('a', { value: 'x'.repeat(3 * 1024 * 1024) })],
      'd.jsonl line 1: the line is 3145801 bytes; a line may be at most 2097151',
    ],
  ])('should name the first bad line of %#', async (texts, message) => {
    await expect(checkBackupLines(lines(...texts), 'd.jsonl')).rejects.toThrow(message);
    await expect(checkBackupLines(lines(...texts), 'd.jsonl')).rejects.toThrow('; nothing was imported');
  });
});

describe(restoreChunks.name, () => {
  it('should group lines by count and by bytes, in order, numbering each chunk’s first line', async () => {
    const texts = ['a', 'b', 'c', 'd', 'e'].map((k) => line(k));
    const byCount = await all(restoreChunks(lines(...texts), { maxLines: 2 }));
    expect(byCount.map((c) => [c.firstLine, c.lines])).toEqual([
      [1, 2],
      [3, 2],
      [5, 1],
    ]);
    expect(byCount[0]?.body).toBe(`${texts[0]}\n${texts[1]}\n`);
    const size = Buffer.byteLength(texts[0] ?? '') + 1;
    const byBytes = await all(restoreChunks(lines(...texts), { maxBytes: size * 3 }));
    expect(byBytes.map((c) => [c.firstLine, c.lines])).toEqual([
      [1, 3],
      [4, 2],
    ]);
  });
});

describe(inFileTerms.name, () => {
  it('should turn the service’s line number into the file’s', () => {
    const chunk = { firstLine: 1001, lines: 1000, body: '' };
    expect(inFileTerms('line 3: version must be…', chunk, 'd.jsonl')).toBe('d.jsonl line 1003: version must be…');
    expect(inFileTerms('the database is unavailable', chunk, 'd.jsonl')).toBe(
      'd.jsonl lines 1001–2000: the database is unavailable',
    );
  });
});
