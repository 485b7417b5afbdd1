import { Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError, ErrorCode } from '@keyflow/contracts';

export type Consistency = 'eventual' | 'strong';

/**
 * `?consistency=` on reads. A plain pipe rather than a validated query DTO: this is the hottest route,
 * and class-transformer plus class-validator on every GET cost a measurable share of its CPU.
 */
@Injectable()
export class ConsistencyPipe implements PipeTransform<string | undefined, Consistency> {
  transform(value: string | undefined): Consistency {
    if (value === undefined || value === 'eventual') return 'eventual';
    if (value === 'strong') return 'strong';
    throw new DomainError(ErrorCode.INVALID_REQUEST, 'consistency must be eventual or strong');
  }
}
