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

  /** The database holds finished operations; the tracker covers the time between the confirm and the apply. */
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
    const accepted = await this.tracker.findAccepted(id).catch(() => undefined);
    if (accepted) return { ...accepted, status: 'accepted' };
    throw new DomainError(ErrorCode.OPERATION_NOT_FOUND, `no operation with id ${id} is known`);
  }
}
