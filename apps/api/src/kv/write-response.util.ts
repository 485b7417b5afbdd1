import type { FastifyReply } from 'fastify';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import type { WriteResult } from './kv.service';

/**
 * Answers a write:
 * - accepted (not finished yet): 202 with the operation and its `Location`;
 * - applied: 201 when a put created the key, 200 otherwise, 204 for a delete, with the new `ETag`;
 * - conflict: 412 with the key's current version; failed: 422 with the reason.
 * A repeated idempotent request says so with `Idempotent-Replayed: true`.
 */
export function sendWriteResult(reply: FastifyReply, result: WriteResult): void {
  if (result.replayed) void reply.header('idempotent-replayed', 'true');
  if (result.kind === 'accepted') {
    const { accepted } = result;
    void reply.status(202).header('location', `/v1/operations/${accepted.operationId}`).send(accepted);
    return;
  }
  const { outcome } = result;
  void reply.header('location', `/v1/operations/${outcome.id}`);
  switch (outcome.status) {
    case 'applied':
      void reply.header('etag', `"${outcome.version ?? 0}"`);
      if (outcome.type === 'delete') {
        void reply.status(204).send();
        return;
      }
      void reply
        .status(outcome.created ? 201 : 200)
        .send({ operationId: outcome.id, key: outcome.key, status: 'applied', version: outcome.version });
      return;
    case 'conflict':
      throw new DomainError(
        ErrorCode.PRECONDITION_FAILED,
        outcome.version
          ? `the write's condition did not hold: the key is at version ${outcome.version}`
          : `the write's condition did not hold: the key does not exist`,
        { operationId: outcome.id, currentVersion: outcome.version ?? 0 },
      );
    case 'failed':
      throw new DomainError(ErrorCode.WRITE_FAILED, outcome.error ?? 'the write could not be applied', {
        operationId: outcome.id,
      });
  }
}
