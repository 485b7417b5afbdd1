import { type ArgumentMetadata, Injectable, type PipeTransform } from '@nestjs/common';
import { DomainError, ErrorCode } from '@keyflow/contracts';

/** Every request body keyflow takes is a JSON object; say so plainly instead of listing array indexes as unknown fields. */
@Injectable()
export class JsonObjectBodyPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type === 'body' && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      throw new DomainError(ErrorCode.INVALID_REQUEST, 'the body must be a JSON object, such as {"value": …}');
    }
    return value;
  }
}
