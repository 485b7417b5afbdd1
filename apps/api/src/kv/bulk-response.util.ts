import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE } from '../common/problem.dto';
import { toProblem } from '../common/problem-details.util';
import type { BulkOperationError, BulkOperationResult, BulkWriteResult } from './kv-bulk.service';

/** An operation that was not accepted, as the problem's `operations` member lists it. */
export interface BulkOperationRefusal {
  key: string;
  /** `unknown`: sent, but not confirmed (it may still be applied; follow `operationId`). `not-sent`: never sent. */
  status: 'unknown' | 'not-sent';
  operationId?: string;
  error: string;
}

/**
 * Answers a bulk write:
 * - every operation accepted: 202 `{"operations":[…]}` in request order; with `Prefer: wait`, 200 when every one
 *   finished (applied, conflict, failed: each in its own entry, as a single write's answer says it), else 202;
 * - some not accepted: a problem document with the status of the first failure (503 when the broker did not
 *   confirm) and an `operations` member that says, per operation, what became of it. A retry with the same
 *   Idempotency-Key re-sends only what was not accepted, and applies nothing twice.
 * `Idempotent-Replayed: true` when every operation repeats an earlier request's.
 */
export function sendBulkResult(
  request: FastifyRequest,
  reply: FastifyReply,
  result: BulkWriteResult,
  waited: boolean,
): void {
  const failures = result.results.flatMap((r, index) => (isRefused(r) ? [{ index, failure: r }] : []));
  const first = failures.find(({ failure }) => !failure.heldBack) ?? failures[0];
  if (!first) {
    if (result.replayed) void reply.header('idempotent-replayed', 'true');
    void reply
      .status(waited && result.allFinished ? 200 : 202)
      .send({ operations: result.results as BulkOperationResult[] });
    return;
  }
  // The first failure's status, type and headers (Retry-After); its operation id is in `operations`, with the others'.
  const {
    problem: { operationId: _first, ...problem },
    headers,
  } = toProblem(first.failure.error);
  if (headers) void reply.headers(headers);
  const notAccepted = failures.length;
  const detail =
    `${notAccepted} of ${result.results.length} operations were not accepted; the others were. ` +
    `First: operations[${first.index}]: ${problem.detail}. ` +
    'Retry the same request with the same Idempotency-Key: what was accepted is not applied twice.';
  void reply
    .status(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(
      JSON.stringify({
        ...problem,
        detail,
        operations: result.results.map((r) => (isRefused(r) ? refusal(r) : r)),
        instance: request.url.split('?')[0],
        requestId: request.id,
      }),
    );
}

function refusal({ key, error, heldBack }: BulkOperationError): BulkOperationRefusal {
  const operationId = error.details.operationId;
  return {
    key,
    status: operationId !== undefined && !heldBack ? 'unknown' : 'not-sent',
    ...(operationId !== undefined ? { operationId } : {}),
    error: error.message,
  };
}

function isRefused(r: BulkOperationResult | BulkOperationError): r is BulkOperationError {
  return !('status' in r);
}
