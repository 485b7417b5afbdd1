import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE, ProblemDto } from './problem.dto';

const DESCRIPTIONS: Record<number, string> = {
  400:
    'Invalid input: a bad key, malformed JSON, a missing or unknown field, a bad query parameter, or a value ' +
    'keyflow cannot store as written (a number a double does not hold exactly, U+0000, a lone surrogate, a ' +
    'repeated member name, nesting deeper than 64).',
  401: 'No credentials, or they are wrong, expired or revoked. Log in or send `Authorization: Bearer <token>`.',
  403: 'Not allowed: a cookie-authenticated write from another origin (CSRF), or an admin-only route.',
  404: 'Nothing found under this key or id.',
  409: 'Already exists.',
  412: 'A condition failed: the key is not at the `If-Match` version (or absent, or present), or `If-Match` is weak.',
  413: 'The value is larger than 1 MiB of JSON, or the body is larger than the server accepts.',
  410: 'The revision to resume after is older than the retained history (24 h at least): list again, then watch.',
  415: 'The body is not `application/json`, or has a `Content-Encoding` (none is supported).',
  429: 'Too many attempts; `Retry-After` says how many seconds to wait.',
  503: 'A dependency (broker, database) is unavailable; nothing was written. Retry later.',
};

/** Documents error responses as RFC 9457 problem documents. */
export function ApiProblemResponses(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'Error',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) } } },
      }),
    ),
  );
}
