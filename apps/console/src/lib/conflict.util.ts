/**
 * Conflict protection for the key editor. An edit is sent with `If-Match: <the version it loaded>` (a new key with
 * `If-None-Match: *`); when someone else wrote first the API answers 412 with the key's current version, and the
 * editor shows their value next to the user's and lets the user choose. Nothing is overwritten without that choice.
 */

/** What the editor loaded: the version its edit is based on (`0`: a key that did not exist). */
export interface EditBase {
  key: string;
  version: number;
}

/** The newer state of the key, read after a 412. `deleted`: it no longer exists. */
export type Theirs =
  { deleted: true; version: number } | { deleted: false; version: number; value: unknown; expiresAt?: string };

export interface Conflict {
  key: string;
  /** The text the user wrote, kept as it was. */
  mine: string;
  /** The version the edit was based on. */
  baseVersion: number;
  theirs: Theirs;
}

/** The write's condition: `ifMatch` with the loaded version, or `ifNoneMatch` for a key created here. */
export function writeCondition(base: EditBase): { ifMatch: number } | { ifNoneMatch: '*' } {
  return base.version > 0 ? { ifMatch: base.version } : { ifNoneMatch: '*' };
}

export function conflictOf(base: EditBase, mine: string, theirs: Theirs): Conflict {
  return { key: base.key, mine, baseVersion: base.version, theirs };
}

export type ConflictChoice = 'keep-mine' | 'take-theirs';

/**
 * What each choice does:
 * - `keep-mine`: write the user's text again, now conditioned on *their* version (still protected: a third writer
 *   in between makes it conflict again);
 * - `take-theirs`: drop the user's text and edit their value from their version (or, deleted, start a new key).
 */
export function resolveConflict(
  conflict: Conflict,
  choice: ConflictChoice,
): { base: EditBase; text: string; write: boolean } {
  const base: EditBase = { key: conflict.key, version: conflict.theirs.deleted ? 0 : conflict.theirs.version };
  switch (choice) {
    case 'keep-mine':
      return { base, text: conflict.mine, write: true };
    case 'take-theirs':
      return {
        base,
        text: conflict.theirs.deleted ? '' : JSON.stringify(conflict.theirs.value, null, 2),
        write: false,
      };
  }
}

/** One sentence on what happened, for the conflict panel. */
export function conflictSummary(conflict: Conflict): string {
  const { theirs, baseVersion, key } = conflict;
  const from = baseVersion > 0 ? `version ${baseVersion}` : 'when it did not exist';
  return theirs.deleted
    ? `Someone deleted ${key} after you opened it (${from}): your change was not saved.`
    : `Someone else saved ${key} (now version ${theirs.version}) after you opened it (${from}): your change was not saved.`;
}
