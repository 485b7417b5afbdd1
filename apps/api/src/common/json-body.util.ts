import type { FastifyInstance } from 'fastify';
import {
  BACKUP_CONTENT_TYPE,
  describeUnstorableJson,
  DomainError,
  ErrorCode,
  MAX_RESTORE_BODY_BYTES,
} from '@keyflow/contracts';
import { BULK_ROUTE, describeUnstorableBulkBody } from './bulk-body.util';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Replaces Fastify's `application/json` parser for every route. A body is refused with a problem document
 * before anything is accepted when:
 * - it is not UTF-8 (RFC 8259): Fastify's parser would replace bad bytes with U+FFFD and store something else;
 * - it holds anything keyflow cannot store faithfully (`describeUnstorableJson`: inexact numbers, U+0000, lone
 *   surrogates, repeated member names, values nested deeper than `MAX_VALUE_DEPTH`), checked on the text
 *   before it is parsed, so a 100,000-level value never reaches a recursive parser or serialiser.
 * What passes goes to Fastify's own parser, which keeps its protection against `__proto__` and `constructor`.
 * Every body keyflow takes is an object around the value (`{"value": …}`): one level of envelope; except a bulk
 * write's (`{"operations":[{…,"value": …}]}`), whose problems name the operation (`describeUnstorableBulkBody`).
 */
export function useJsonBodyParser(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new DomainError(ErrorCode.MALFORMED_JSON, 'the body is not well-formed UTF-8, which JSON must be'));
      return;
    }
    const bulk = request.method === BULK_ROUTE.method && request.routeOptions.url === BULK_ROUTE.url;
    const problem = bulk ? describeUnstorableBulkBody(text) : describeUnstorableJson(text, { envelope: 1 });
    if (problem) {
      done(new DomainError(ErrorCode.INVALID_VALUE, problem));
      return;
    }
    void parseJson(request, text, done);
  });
}

/**
 * `application/x-ndjson` bodies (`POST /v1/backup/restore`) arrive as text, one JSON document a line, up to
 * `MAX_RESTORE_BODY_BYTES` (a line with a 1 MiB value is larger than the JSON body limit). Only UTF-8 is checked
 * here; the route reads and checks every line itself and names the one that is wrong.
 */
export function useNdjsonBodyParser(fastify: FastifyInstance): void {
  fastify.addContentTypeParser(
    BACKUP_CONTENT_TYPE,
    { parseAs: 'buffer', bodyLimit: MAX_RESTORE_BODY_BYTES },
    (_request, body, done) => {
      try {
        done(null, utf8.decode(body as Buffer));
      } catch {
        done(new DomainError(ErrorCode.MALFORMED_JSON, 'the body is not well-formed UTF-8, which JSON must be'));
      }
    },
  );
}
