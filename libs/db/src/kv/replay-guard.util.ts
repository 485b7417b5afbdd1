/**
 * Whether a dead-lettered operation that comes back to a worker may be applied now; the reason when not.
 *
 * An operation whose record says `failed` was dead-lettered: it left its place in its shard's order, and whatever
 * brings it back (an operator's `npm run dlq -- replay`, or a redelivery after the failure was recorded) puts it
 * behind writes that were accepted after it. So:
 * - `replayAtVersion` set (the operator's tool checked the key, showed what would be overwritten, and recorded
 *   the version it saw): apply only while the key is still at exactly that version (0: the key never existed). Anything written
 *   between the check and now was not part of what the operator agreed to, so the replay is refused.
 * - not set: apply only if no operation accepted after this one has been applied to the key (by the accepted-at
 *   time of the key's last write; rows last written before schema 3 do not have it and are not refused).
 * A refused operation is dead-lettered again, with this reason, and waits for the operator.
 *
 * The reason never quotes the key or the message's own text: the worker classifies errors by their message
 * (`isTransientDbError`), and a key such as "connection timeout" must not make a refusal look transient.
 */
export function replayRefusal(
  op: { acceptedAt: string },
  record: { replayAtVersion: number | null },
  before: { version: number; lastAcceptedAt: string | null } | undefined,
): string | undefined {
  const current = before?.version ?? 0;
  if (record.replayAtVersion !== null) {
    if (current === record.replayAtVersion) return undefined;
    return `its key is at version ${current}, not at version ${record.replayAtVersion} as when the replay was checked: it was written since`;
  }
  if (before?.lastAcceptedAt && Date.parse(before.lastAcceptedAt) > Date.parse(op.acceptedAt)) {
    const acceptedAt = new Date(op.acceptedAt).toISOString();
    return `its key is at version ${current}, written by an operation accepted at ${before.lastAcceptedAt}, after this one (${acceptedAt})`;
  }
  return undefined;
}
