import { describe, expect, it } from 'vitest';
import {
  allows,
  describeBadGrants,
  type Grant,
  grantsBeyond,
  intersectGrants,
  normaliseGrants,
  scopeUnder,
} from './grant.util';

const read = (prefix: string): Grant => ({ prefix, access: 'read' });
const write = (prefix: string): Grant => ({ prefix, access: 'write' });

describe('grants', () => {
  describe(allows.name, () => {
    it.each([
      [[write('bob/')], 'bob/x', 'write', true],
      [[write('bob/')], 'bob/x', 'read', true],
      [[write('bob/')], 'bob', 'read', false],
      [[write('bob/')], 'alice/x', 'read', false],
      [[read('app/')], 'app/config', 'read', true],
      [[read('app/')], 'app/config', 'write', false],
      [[read('app/'), write('app/cache/')], 'app/cache/1', 'write', true],
      [[write('')], 'anything', 'write', true],
      [[], 'anything', 'read', false],
    ] as const)('should decide %j on %s for %s: %s', (grants, key, need, expected) => {
      expect(allows(grants, key, need)).toBe(expected);
    });
  });

  describe(normaliseGrants.name, () => {
    it('should drop grants another covers, keep the stronger of duplicates, and sort by UTF-8 bytes', () => {
      expect(
        normaliseGrants([
          read('b/x/'),
          write('b/'),
          read('a/'),
          read('a/'),
          write('a/'),
          read('\u{1F600}'),
          read('\uFFFD'),
        ]),
      ).toEqual([write('a/'), write('b/'), read('\uFFFD'), read('\u{1F600}')]);
    });

    it('should keep a write under a read: it allows more there', () => {
      expect(normaliseGrants([read('app/'), write('app/cache/')])).toEqual([read('app/'), write('app/cache/')]);
    });
  });

  describe(intersectGrants.name, () => {
    it('should keep the longer prefix where two meet, with the lesser access', () => {
      expect(intersectGrants([write('app/')], [read('app/config/'), write('other/')])).toEqual([read('app/config/')]);
      expect(intersectGrants([write('')], [write('bob/')])).toEqual([write('bob/')]);
      expect(intersectGrants([read('a/')], [write('b/')])).toEqual([]);
    });
  });

  describe(grantsBeyond.name, () => {
    it('should name each requested grant the held ones do not cover', () => {
      expect(grantsBeyond([read('app/x/'), write('app/'), read('b/')], [read('app/'), write('b/')])).toEqual([
        write('app/'),
      ]);
      expect(grantsBeyond([], [])).toEqual([]);
    });
  });

  describe(scopeUnder.name, () => {
    it('should show all of a prefix inside a grant, only granted keys of a wider one, and none of a foreign one', () => {
      const grants = [write('bob/'), read('shared/docs/')];
      expect(scopeUnder(grants, 'bob/sub')).toEqual({ kind: 'all' });
      expect(scopeUnder(grants, '')).toEqual({ kind: 'some', prefixes: ['bob/', 'shared/docs/'] });
      expect(scopeUnder(grants, 'shared/')).toEqual({ kind: 'some', prefixes: ['shared/docs/'] });
      expect(scopeUnder(grants, 'alice/')).toEqual({ kind: 'none' });
    });
  });

  describe(describeBadGrants.name, () => {
    it('should accept good grants and name every bad field', () => {
      expect(describeBadGrants([write(''), read('a/')])).toEqual([]);
      expect(describeBadGrants({})).toEqual(['grants must be an array of {"prefix", "access"}']);
      expect(
        describeBadGrants([{ prefix: 1, access: 'admin', extra: true }, 'x', { prefix: 'a\n', access: 'read' }]),
      ).toEqual([
        'grants[0].extra is not a grant property',
        'grants[0].prefix must be a string ("" for every key)',
        'grants[0].access must be "read" or "write"',
        'grants[1] must be an object {"prefix", "access"}',
        'grants[2].prefix must be at most 512 bytes of UTF-8 without control characters',
      ]);
      expect(describeBadGrants(Array.from({ length: 101 }, () => read('')))).toEqual([
        'grants may hold at most 100 grants, not 101',
      ]);
    });
  });
});
