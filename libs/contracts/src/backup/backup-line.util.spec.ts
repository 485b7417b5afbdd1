import { describe, expect, it } from 'vitest';
import { backupLineText, parseBackupLine } from './backup-line.util';

const line = (fields: Record<string, unknown>) =>
  JSON.stringify({
    key: 'user:42',
    value: { name: 'Ada' },
    version: 3,
    updatedAt: '2026-11-23T10:15:30.123Z',
    ...fields,
  });

describe(parseBackupLine.name, () => {
  it('should read a line with and without an expiry', () => {
    expect(parseBackupLine(line({}))).toEqual({
      entry: { key: 'user:42', value: { name: 'Ada' }, version: 3, updatedAt: '2026-11-23T10:15:30.123Z' },
    });
    expect(parseBackupLine(line({ expiresAt: '2026-11-23T10:16:00.000Z' }))).toMatchObject({
      entry: { expiresAt: '2026-11-23T10:16:00.000Z' },
    });
  });

  it('should keep values exactly: unicode, nested JSON, null, the largest exact numbers', () => {
    const value = { s: 'naïve ☃ 𝄞', n: [9007199254740991, -0.1, 1e21], deep: [[[{ a: null }]]], t: true };
    expect(parseBackupLine(line({ value }))).toMatchObject({ entry: { value } });
    expect(parseBackupLine(line({ value: null }))).toMatchObject({ entry: { value: null } });
  });

  it.each([
    ['', 'the line is empty'],
    ['   ', 'the line is empty'],
    ['{"key":', 'the line is not JSON'],
    ['[1,2]', 'the line must be a JSON object'],
    [line({ extra: 1 }), 'unknown member "extra"'],
    [line({ key: 7 }), 'key must be a string'],
    [line({ key: '' }), 'the key is empty'],
    [line({ key: 'a\u0001b' }), 'the key contains a control character'],
    [JSON.stringify({ key: 'k', version: 1, updatedAt: '2026-11-23T10:15:30.123Z' }), 'value is missing'],
    [line({ version: 0 }), 'version must be an integer of at least 1'],
    [line({ version: 1.5 }), 'version must be an integer of at least 1'],
    [line({ version: '3' }), 'version must be an integer of at least 1'],
    [line({ updatedAt: 'yesterday' }), 'updatedAt must be an ISO 8601 timestamp'],
    [line({ updatedAt: '2026-13-45T99:00:00Z' }), 'updatedAt must be an ISO 8601 timestamp'],
    [line({ expiresAt: null }), 'expiresAt must be an ISO 8601 timestamp'],
    [line({ value: 'x'.repeat(1024 * 1024) }), 'the limit is 1048576 (1 MiB)'],
  ])('should refuse %s… saying %s', (text, problem) => {
    const result = parseBackupLine(text);
    expect(result).toHaveProperty('problem');
    expect((result as { problem: string }).problem).toContain(problem);
  });

  it('should refuse what keyflow cannot store as written, before parsing', () => {
    const inexact = '{"key":"k","value":12345678901234567890123,"version":1,"updatedAt":"2026-11-23T10:15:30.123Z"}';
    expect(parseBackupLine(inexact)).toEqual({
      problem: expect.stringContaining('the number 12345678901234567890123 at /value cannot be stored exactly'),
    });
    const twice = '{"key":"k","key":"j","value":1,"version":1,"updatedAt":"2026-11-23T10:15:30.123Z"}';
    expect(parseBackupLine(twice)).toEqual({ problem: expect.stringContaining('"key" appears twice') });
    const deep = `{"key":"k","value":${'['.repeat(65)}${']'.repeat(65)},"version":1,"updatedAt":"2026-11-23T10:15:30.123Z"}`;
    expect(parseBackupLine(deep)).toEqual({ problem: expect.stringContaining('nested too deeply') });
  });
});

describe(backupLineText.name, () => {
  it('should write the value text untouched and the expiry only when set', () => {
    const text = backupLineText({
      key: 'a"b',
      valueJson: '{"n": 1.50, "s": "☃"}',
      version: 2,
      updatedAt: '2026-11-23T10:15:30.123Z',
      expiresAt: null,
    });
    expect(text).toBe(
      '{"key":"a\\"b","value":{"n": 1.50, "s": "☃"},"version":2,"updatedAt":"2026-11-23T10:15:30.123Z"}',
    );
    expect(parseBackupLine(text)).toEqual({
      entry: { key: 'a"b', value: { n: 1.5, s: '☃' }, version: 2, updatedAt: '2026-11-23T10:15:30.123Z' },
    });
    expect(backupLineText({ key: 'k', valueJson: '1', version: 1, updatedAt: 'u', expiresAt: 'e' })).toBe(
      '{"key":"k","value":1,"version":1,"updatedAt":"u","expiresAt":"e"}',
    );
  });
});
