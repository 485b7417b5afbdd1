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
  async find(id: string): Promise<OperationResponseDto> {
    let finished;
    try {
      finished = await this.operations.find(id);
    } catch (err) {
      if (isTransientDbError(err))
        throw new DomainError(ErrorCode.DATABASE_UNAVAILABLE, 'the database is unavailable; retry shortly');
      throw err;
    }
    if (finished) return finished;
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
    if (accepted) return { ...accepted, status: 'accepted' };
    throw new DomainError(ErrorCode.OPERATION_NOT_FOUND, `no operation with id ${id} is known`);
  }
}
