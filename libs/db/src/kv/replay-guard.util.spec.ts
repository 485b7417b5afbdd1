import { describe, expect, it } from 'vitest';
import { replayRefusal } from './replay-guard.util';

const op = { acceptedAt: '2026-11-23T10:00:00.000Z' };
const earlier = '2026-11-23T09:59:00.000Z';
const later = '2026-11-23T10:30:00.000Z';

describe(replayRefusal.name, () => {
  describe('a replay an operator checked (npm run dlq -- replay)', () => {
    it('should allow it while the key is still at the version the operator checked', () => {
      expect(replayRefusal(op, { replayAtVersion: 3 }, { version: 3, lastAcceptedAt: later })).toBeUndefined();
    });

    it('should allow it on a key that never existed, when the operator checked version 0', () => {
      expect(replayRefusal(op, { replayAtVersion: 0 }, undefined)).toBeUndefined();
    });

    it('should refuse it once the key was written after the check', () => {
      expect(replayRefusal(op, { replayAtVersion: 3 }, { version: 4, lastAcceptedAt: earlier })).toBe(
        'its key is at version 4, not at version 3 as when the replay was checked: it was written since',
      );
    });

    it('should refuse it when the key was created after the check', () => {
      expect(replayRefusal(op, { replayAtVersion: 0 }, { version: 1, lastAcceptedAt: null })).toBe(
        'its key is at version 1, not at version 0 as when the replay was checked: it was written since',
      );
    });
  });

  describe('a dead-lettered operation that comes back without an operator check', () => {
    it('should allow it when nothing accepted after it was applied to the key', () => {
      expect(replayRefusal(op, { replayAtVersion: null }, { version: 2, lastAcceptedAt: earlier })).toBeUndefined();
      expect(replayRefusal(op, { replayAtVersion: null }, undefined)).toBeUndefined();
    });

    it('should allow it on a key last written before accepted-at was recorded (schema 3)', () => {
      expect(replayRefusal(op, { replayAtVersion: null }, { version: 2, lastAcceptedAt: null })).toBeUndefined();
    });

    it('should refuse it when the key was written by an operation accepted after it', () => {
      expect(replayRefusal(op, { replayAtVersion: null }, { version: 5, lastAcceptedAt: later })).toBe(
        `its key is at version 5, written by an operation accepted at ${later}, after this one (${op.acceptedAt})`,
      );
    });
  });
});
