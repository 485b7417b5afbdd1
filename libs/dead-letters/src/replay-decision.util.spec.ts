import { describe, expect, it } from 'vitest';
import type { KvLastWrite } from '@keyflow/db';
import type { DeadLetter } from './dead-letter.util';
import { decideReplay } from './replay-decision.util';

const letter: DeadLetter = {
  operationId: '5e2b7c1a-9d3f-4a6e-8b0c-1f4d7a2e9c36',
  key: 'user:1',
  type: 'put',
  acceptedAt: '2026-11-23T10:00:00.000Z',
  reason: 'rejected',
  fromQueue: 'kv.shard.3',
  deadLetteredAt: '2026-11-23T10:00:05.000Z',
  bytes: 120,
};

const write = (overrides: Partial<KvLastWrite> = {}): KvLastWrite => ({
  key: 'user:1',
  valueJson: '{"n":1}',
  version: 4,
  deleted: false,
  updatedAt: '2026-11-23T10:00:01.000Z',
  lastOperationId: 'a1b2c3d4-0000-4000-8000-000000000008',
  lastAcceptedAt: '2026-11-23T09:59:00.000Z',
  ...overrides,
});

const newer = write({
  version: 7,
  valueJson: '{"n":2}',
  lastOperationId: 'a1b2c3d4-0000-4000-8000-000000000010',
  lastAcceptedAt: '2026-11-23T10:30:00.000Z',
  updatedAt: '2026-11-23T10:30:01.000Z',
});

const overwriteWarning =
  'key "user:1" is at version 7 (value {"n":2}, written by operation a1b2c3d4-0000-4000-8000-000000000010 ' +
  'accepted at 2026-11-23T10:30:00.000Z, applied at 2026-11-23T10:30:01.000Z), newer than this dead letter ' +
  '(put accepted at 2026-11-23T10:00:00.000Z): replaying it would overwrite that';

describe(decideReplay.name, () => {
  it("should replay a letter whose key was not written since, to apply only at the key's current version", () => {
    expect(decideReplay(letter, { lastWrite: write() }, { force: false })).toEqual({ kind: 'replay', atVersion: 4 });
  });

  it('should replay a letter for a key that never existed, at version 0', () => {
    expect(decideReplay(letter, {}, { force: false })).toEqual({ kind: 'replay', atVersion: 0 });
  });

  it('should not replay an operation that was already applied, and say at which version', () => {
    const record = {
      id: letter.operationId ?? '',
      key: 'user:1',
      status: 'applied' as const,
      version: 5,
      deadLetteredAt: '2026-11-23T10:00:05.000Z',
    };
    expect(decideReplay(letter, { record, lastWrite: write({ version: 9 }) }, { force: true })).toEqual({
      kind: 'settled',
      status: 'applied',
      version: 5,
    });
  });

  it("should not replay an operation that is its key's last write even when its record was pruned", () => {
    const lastWrite = write({ version: 6, lastOperationId: letter.operationId ?? '' });
    expect(decideReplay(letter, { lastWrite }, { force: true })).toEqual({
      kind: 'settled',
      status: 'applied',
      version: 6,
    });
  });

  it('should refuse when the key was written by an operation accepted after the letter, saying what it would overwrite', () => {
    expect(decideReplay(letter, { lastWrite: newer }, { force: false })).toEqual({
      kind: 'refused',
      warning: overwriteWarning,
    });
  });

  it('should replay over newer writes with --force, at the version the warning showed', () => {
    expect(decideReplay(letter, { lastWrite: newer }, { force: true })).toEqual({
      kind: 'replay',
      atVersion: 7,
      warning: overwriteWarning,
    });
  });

  it('should say a newer delete would be undone', () => {
    const deleted = { ...newer, deleted: true, valueJson: null };
    expect(decideReplay(letter, { lastWrite: deleted }, { force: false })).toMatchObject({
      kind: 'refused',
      warning: expect.stringMatching(
        /^key "user:1" was deleted at version 7 \(by operation .*replaying it would undo that$/,
      ),
    });
  });

  it('should count a write applied after the letter was dead-lettered as newer, whatever its accepted-at says', () => {
    const skewed = write({ lastAcceptedAt: '2026-11-23T09:59:59.000Z', updatedAt: '2026-11-23T10:00:07.000Z' });
    expect(decideReplay(letter, { lastWrite: skewed }, { force: false })).toMatchObject({ kind: 'refused' });
  });

  it('should not count a write applied within the second the letter was dead-lettered in (x-death has whole seconds)', () => {
    const sameSecond = write({ updatedAt: '2026-11-23T10:00:05.400Z' });
    expect(decideReplay(letter, { lastWrite: sameSecond }, { force: false })).toMatchObject({ kind: 'replay' });
  });

  it('should count a write to a key written before accepted-at was recorded as newer when it was applied after the letter was accepted', () => {
    const legacy = write({ lastOperationId: null, lastAcceptedAt: null, updatedAt: '2026-11-23T10:00:01.000Z' });
    expect(decideReplay(letter, { lastWrite: legacy }, { force: false })).toMatchObject({ kind: 'refused' });
    const older = write({ lastOperationId: null, lastAcceptedAt: null, updatedAt: '2026-11-23T09:00:00.000Z' });
    expect(decideReplay(letter, { lastWrite: older }, { force: false })).toEqual({ kind: 'replay', atVersion: 4 });
  });

  it('should refuse a letter older than a letter of its key replayed earlier in the same run', () => {
    const pending = { version: 5, acceptedAt: '2026-11-23T10:10:00.000Z' };
    expect(decideReplay(letter, { lastWrite: write() }, { force: false, pending })).toEqual({
      kind: 'refused',
      warning:
        'a newer dead letter of key "user:1" (accepted at 2026-11-23T10:10:00.000Z) was replayed earlier in this run: ' +
        'replaying this one (put accepted at 2026-11-23T10:00:00.000Z) after it would overwrite it',
    });
  });

  it('should chain letters of one key replayed in one run, each at the version the previous one will write', () => {
    const pending = { version: 5, acceptedAt: '2026-11-23T09:50:00.000Z' };
    expect(decideReplay(letter, { lastWrite: write() }, { force: false, pending })).toEqual({
      kind: 'replay',
      atVersion: 5,
    });
  });

  it('should not replay a letter without an operation id, a key, a known type or an accepted-at time', () => {
    const { acceptedAt: _a, ...noTime } = letter;
    expect(decideReplay(noTime, {}, { force: true })).toEqual({
      kind: 'unreadable',
      reason: 'its body has no valid acceptedAt (purge it instead)',
    });
    expect(decideReplay({ ...letter, type: 'merge' }, {}, { force: true })).toEqual({
      kind: 'unreadable',
      reason: 'its type is neither put nor delete (purge it instead)',
    });
    const { key: _k, ...noKey } = letter;
    expect(decideReplay(noKey, {}, { force: true })).toEqual({
      kind: 'unreadable',
      reason: 'its key is unreadable (purge it instead)',
    });
  });
});
