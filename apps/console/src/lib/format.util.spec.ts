import { describe, expect, it } from 'vitest';
import {
  formatDuration,
  formatExpiry,
  formatJson,
  formatRelative,
  parseJsonInput,
  parseTtl,
  previewJson,
  problemMessage,
  retryAfterSeconds,
} from './format.util';

const NOW = Date.parse('2026-12-01T12:00:00Z');

describe('format.util', () => {
  describe(formatJson.name, () => {
    it('should indent objects by two spaces and keep scalars on one line', () => {
      expect(formatJson({ a: [1, { b: null }] })).toBe('{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ]\n}');
      expect(formatJson('text')).toBe('"text"');
    });
  });

  describe(parseJsonInput.name, () => {
    it('should accept any JSON value and say what is wrong with anything else', () => {
      expect(parseJsonInput(' {"a": 1} ')).toEqual({ ok: true, value: { a: 1 } });
      expect(parseJsonInput('false')).toEqual({ ok: true, value: false });
      expect(parseJsonInput('')).toEqual({ ok: false, error: expect.stringContaining('enter a JSON value') });
      expect(parseJsonInput("{'a': 1}")).toEqual({ ok: false, error: expect.stringMatching(/^not JSON: /) });
    });
  });

  describe(parseTtl.name, () => {
    it('should read seconds and s/m/h/d units, empty as no TTL', () => {
      expect(parseTtl('')).toEqual({ ok: true, value: undefined });
      expect(parseTtl('90')).toEqual({ ok: true, value: 90 });
      expect(parseTtl('10m')).toEqual({ ok: true, value: 600 });
      expect(parseTtl(' 2H ')).toEqual({ ok: true, value: 7200 });
      expect(parseTtl('1d')).toEqual({ ok: true, value: 86_400 });
    });

    it('should refuse zero, negatives, fractions and unknown units', () => {
      for (const bad of ['0', '-5', '1.5', '3w', 'soon']) expect(parseTtl(bad).ok).toBe(false);
    });
  });

  describe(formatDuration.name, () => {
    it('should round to what a person reads', () => {
      expect(formatDuration(4_400)).toBe('4 s');
      expect(formatDuration(5 * 60_000 + 10_000)).toBe('5 min');
      expect(formatDuration(2 * 3_600_000)).toBe('2 h');
      expect(formatDuration(2 * 3_600_000 + 5 * 60_000)).toBe('2 h 5 min');
      expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3 d 4 h');
    });
  });

  describe(formatRelative.name, () => {
    it('should say in or ago', () => {
      expect(formatRelative('2026-12-01T12:30:00Z', NOW)).toBe('in 30 min');
      expect(formatRelative('2026-12-01T11:59:57Z', NOW)).toBe('3 s ago');
    });
  });

  describe(formatExpiry.name, () => {
    it('should say never for a key without TTL, and when otherwise', () => {
      expect(formatExpiry(undefined, NOW)).toBe('never');
      expect(formatExpiry('2026-12-01T13:00:00Z', NOW, 'en-GB')).toMatch(/\(in 1 h\)$/);
    });
  });

  describe(previewJson.name, () => {
    it('should cut long values with an ellipsis', () => {
      expect(previewJson({ a: 1 })).toBe('{"a":1}');
      expect(previewJson('x'.repeat(100), 10)).toBe('"xxxxxxxx…');
    });
  });

  describe(problemMessage.name, () => {
    it('should say a login failed without saying whether the user exists', () => {
      expect(
        problemMessage({ status: 401, title: 'Unauthorized', detail: 'wrong username or password' }, 'login'),
      ).toBe('Wrong username or password.');
    });

    it('should give the wait of a throttled login', () => {
      expect(problemMessage({ status: 429, title: 'Too many requests', retryAfterSeconds: 240 }, 'login')).toBe(
        'Too many login attempts: try again in 4 min.',
      );
      expect(problemMessage({ status: 429, title: 'Too many requests' })).toBe('Too many requests: try again later.');
    });

    it('should show the title, detail and status of anything else', () => {
      expect(problemMessage({ status: 403, title: 'Forbidden', detail: 'admins only' })).toBe(
        'Forbidden: admins only (403)',
      );
      expect(problemMessage({ status: 0, title: 'Network error', detail: 'Failed to fetch' })).toBe(
        'Cannot reach the service: Failed to fetch.',
      );
    });
  });

  describe(retryAfterSeconds.name, () => {
    it('should read both forms of Retry-After', () => {
      expect(retryAfterSeconds('120', NOW)).toBe(120);
      expect(retryAfterSeconds('Tue, 01 Dec 2026 12:01:00 GMT', NOW)).toBe(60);
      expect(retryAfterSeconds(null, NOW)).toBeUndefined();
      expect(retryAfterSeconds('soon', NOW)).toBeUndefined();
    });
  });
});
