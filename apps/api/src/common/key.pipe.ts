import { Injectable, type PipeTransform } from '@nestjs/common';
import { describeInvalidKey, DomainError, ErrorCode } from '@keyflow/contracts';

/** Validates a key taken from the path (already percent-decoded by the router). */
@Injectable()
export class KeyPipe implements PipeTransform<string, string> {
  transform(key: string): string {
    const problem = describeInvalidKey(key ?? '');
    if (problem) throw new DomainError(ErrorCode.INVALID_KEY, problem);
    return key;
  }
}
