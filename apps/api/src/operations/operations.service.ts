import { Injectable } from '@nestjs/common';
import { OperationTracker } from '@keyflow/cache';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { isTransientDbError, OperationRepository } from '@keyflow/db';
import type { OperationResponseDto } from '../kv/dto/kv.dto';

@Injectable()
export class OperationsService {
  constructor(
    private readonly operations: OperationRepository,
    private readonly tracker: OperationTracker,
  ) {}

  /**
   * The database holds finished operations; the tracker covers the time between the confirm and the apply.
   * The API answers `202` only once the tracker holds the operation (see `KvService`), so an operation that
   * got a 202 is in one of the two for as long as it is retained. `404` is therefore only for ids neither store
   * knows; when a store cannot be read the answer is `503`, never a 404 that could be taken for "lost".
   * The database is read first, and from the primary: once a worker recorded the outcome there it cuts the
   * tracker's record to a minute (memory), so the record must not be what a finished operation depends on.
   */
  /**
   * Operations belong to the user whose request made them (`WriteMessage.owner`): to anyone else, an admin aside,
   * another user's operation is exactly as unknown as an id never issued (404, the same detail), so ids cannot be
   * probed. One without a recorded owner (a worker's own expiry delete, or from before owners were recorded) is
   * admins' only.
   */
  async find(id: string, viewer: { userId: string; admin: boolean }): Promise<OperationResponseDto> {
    const visible = (owner: string | undefined) => viewer.admin || owner === viewer.userId;
    let finished;
    try {
      finished = await this.operations.find(id);
    } catch (err) {
      if (isTransientDbError(err))
        throw new DomainError(ErrorCode.DATABASE_UNAVAILABLE, 'the database is unavailable; retry shortly');
      throw err;
    }
    if (finished) {
      if (!visible(finished.ownerId)) throw notFound(id);
      const { ownerId: _owner, ...answer } = finished;
      return answer;
    }
    let accepted;
    try {
      accepted = await this.tracker.findAccepted(id);
    } catch {
      throw new DomainError(
        ErrorCode.BROKER_UNAVAILABLE,
        'operation tracking is unavailable right now; retry shortly',
        {
          retryAfterSeconds: 1,
        },
      );
    }
    if (accepted && visible(accepted.owner)) {
      const { owner: _owner, ...answer } = accepted;
      return { ...answer, status: 'accepted' };
    }
    throw notFound(id);
  }
}

function notFound(id: string): DomainError {
  return new DomainError(ErrorCode.OPERATION_NOT_FOUND, `no operation with id ${id} is known`);
}
