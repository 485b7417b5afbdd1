import { describe, expect, it } from 'vitest';
import { conflictOf, conflictSummary, resolveConflict, writeCondition } from './conflict.util';

describe('conflict.util', () => {
  describe(writeCondition.name, () => {
    it('should send If-Match with the loaded version, and If-None-Match for a new key', () => {
      expect(writeCondition({ key: 'k', version: 3 })).toEqual({ ifMatch: 3 });
      expect(writeCondition({ key: 'k', version: 0 })).toEqual({ ifNoneMatch: '*' });
    });
  });

  describe(resolveConflict.name, () => {
    const conflict = conflictOf({ key: 'k', version: 2 }, '{"mine": true}', {
      deleted: false,
      version: 3,
      value: { theirs: true },
    });

    it('should write mine again only against their version, so a third writer still conflicts', () => {
      expect(resolveConflict(conflict, 'keep-mine')).toEqual({
        base: { key: 'k', version: 3 },
        text: '{"mine": true}',
        write: true,
      });
    });

    it('should load theirs into the editor without writing', () => {
      expect(resolveConflict(conflict, 'take-theirs')).toEqual({
        base: { key: 'k', version: 3 },
        text: '{\n  "theirs": true\n}',
        write: false,
      });
    });

    it('should recreate a key deleted meanwhile only if it still does not exist', () => {
      const gone = conflictOf({ key: 'k', version: 2 }, '1', { deleted: true, version: 3 });
      expect(resolveConflict(gone, 'keep-mine').base).toEqual({ key: 'k', version: 0 });
      expect(resolveConflict(gone, 'take-theirs').text).toBe('');
    });
  });

  describe(conflictSummary.name, () => {
    it('should say who won and that nothing of mine was saved', () => {
      expect(conflictSummary(conflictOf({ key: 'k', version: 2 }, '', { deleted: false, version: 3, value: 1 }))).toBe(
        'Someone else saved k (now version 3) after you opened it (version 2): your change was not saved.',
      );
      expect(conflictSummary(conflictOf({ key: 'k', version: 2 }, '', { deleted: true, version: 3 }))).toBe(
        'Someone deleted k after you opened it (version 2): your change was not saved.',
      );
    });
  });
});
