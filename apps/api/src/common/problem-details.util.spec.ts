import { BadRequestException, HttpException, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { toProblem } from './problem-details.util';

describe(toProblem.name, () => {
  it('should map domain errors by code', () => {
    expect(toProblem(new DomainError(ErrorCode.VALUE_TOO_LARGE, 'too big'))).toEqual({
      problem: {
        type: 'https://keyflow.dev/problems/value-too-large',
        title: 'Value too large',
        status: 413,
        detail: 'too big',
      },
      unexpected: false,
    });
    expect(toProblem(new DomainError(ErrorCode.KEY_NOT_FOUND, 'no')).problem.status).toBe(404);
    expect(toProblem(new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'down')).problem.status).toBe(503);
  });

  it("should turn a domain error's facts into problem members and headers, and show no other fact", () => {
    const outcomeUnknown = new DomainError(ErrorCode.BROKER_UNAVAILABLE, 'not confirmed', {
      operationId: 'op-1',
      retryAfterSeconds: 1,
      cause: 'channel closed',
    });
    expect(toProblem(outcomeUnknown)).toEqual({
      problem: {
        type: 'https://keyflow.dev/problems/broker-unavailable',
        title: 'Write path unavailable',
        status: 503,
        detail: 'not confirmed',
        operationId: 'op-1',
      },
      unexpected: false,
      headers: { 'retry-after': '1' },
    });
    const conflict = new DomainError(ErrorCode.PRECONDITION_FAILED, 'no', { operationId: 'op-2', currentVersion: 0 });
    expect(toProblem(conflict).problem).toMatchObject({ operationId: 'op-2', currentVersion: 0 });
    const throttled = new DomainError(ErrorCode.RATE_LIMITED, 'slow down', { retryAfterSeconds: 30 });
    expect(toProblem(throttled).headers).toEqual({ 'retry-after': '30' });
    const anonymous = new DomainError(ErrorCode.UNAUTHENTICATED, 'who?', { challenge: 'bearer' });
    expect(toProblem(anonymous).headers).toEqual({ 'www-authenticate': 'Bearer realm="keyflow"' });
    expect(toProblem(new DomainError(ErrorCode.UNAUTHENTICATED, 'wrong password')).headers).toBeUndefined();
  });

  it('should show no facts of a domain error that is a bug (500)', () => {
    const malformed = new DomainError(ErrorCode.MALFORMED_MESSAGE, 'bad message', { operationId: 'op-3', key: 'k' });
    expect(toProblem(malformed)).toEqual({
      problem: {
        type: 'https://keyflow.dev/problems/malformed-message',
        title: 'Internal error',
        status: 500,
        detail: 'internal error',
      },
      unexpected: true,
    });
  });

  it('should list every validation failure', () => {
    const { problem } = toProblem(new BadRequestException(['a is bad', 'b is bad']));
    expect(problem).toEqual({
      type: 'https://keyflow.dev/problems/invalid-request',
      title: 'Invalid request',
      status: 400,
      detail: 'a is bad; b is bad',
      errors: ['a is bad', 'b is bad'],
    });
  });

  it('should recognise Fastify body errors that Nest turned into HttpExceptions', () => {
    const json = toProblem(
      new HttpException("Body is not valid JSON but content-type is set to 'application/json'", 400),
    );
    expect(json.problem.type).toBe('https://keyflow.dev/problems/malformed-json');
    expect(json.problem.title).toBe('Malformed JSON');
    expect(toProblem(new HttpException('Request body is too large', 413)).problem.type).toBe(
      'https://keyflow.dev/problems/body-too-large',
    );
    expect(toProblem(new HttpException('Unsupported Media Type', 415)).problem.status).toBe(415);
  });

  it('should map Fastify client errors that did not pass through Nest by status', () => {
    const tooLong = Object.assign(new Error("'/v1/kv/xxx' is exceeding the max param length"), {
      code: 'FST_ERR_MAX_PARAM_LENGTH',
      statusCode: 414,
    });
    expect(toProblem(tooLong)).toEqual({
      problem: {
        type: 'about:blank',
        title: 'URI too long',
        status: 414,
        detail: "'/v1/kv/xxx' is exceeding the max param length",
      },
      unexpected: false,
    });
  });

  it('should map the new body errors by code', () => {
    expect(toProblem(new DomainError(ErrorCode.INVALID_VALUE, 'the number 1e999 at /value is out of range'))).toEqual({
      problem: {
        type: 'https://keyflow.dev/problems/invalid-value',
        title: 'Invalid value',
        status: 400,
        detail: 'the number 1e999 at /value is out of range',
      },
      unexpected: false,
    });
    expect(toProblem(new DomainError(ErrorCode.MALFORMED_JSON, 'not UTF-8')).problem).toMatchObject({
      type: 'https://keyflow.dev/problems/malformed-json',
      title: 'Malformed JSON',
      status: 400,
    });
  });

  it('should keep extra fields of an HTTP exception as extensions', () => {
    const { problem } = toProblem(
      new ServiceUnavailableException({ status: 'error', details: { redis: { status: 'down' } } }),
    );
    expect(problem).toMatchObject({ status: 503, details: { redis: { status: 'down' } } });
  });

  it('should map unknown routes to not-found', () => {
    expect(toProblem(new NotFoundException('Cannot GET /x')).problem).toEqual({
      type: 'https://keyflow.dev/problems/not-found',
      title: 'Not found',
      status: 404,
      detail: 'Cannot GET /x',
    });
  });

  it('should hide the details of unexpected errors', () => {
    expect(toProblem(new Error('password=hunter2 in connection string'))).toEqual({
      problem: {
        type: 'about:blank',
        title: 'Internal error',
        status: 500,
        detail: 'an unexpected error occurred; quote the requestId when reporting it',
      },
      unexpected: true,
    });
  });

  it('should answer 503 with Retry-After when a database connection is cut or refused', () => {
    for (const err of [
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('x'), { code: '57P01' }),
    ]) {
      expect(toProblem(err)).toEqual({
        problem: {
          type: 'https://keyflow.dev/problems/database-unavailable',
          title: 'Database unavailable',
          status: 503,
          detail: 'the database is unavailable for a moment; retry shortly',
        },
        unexpected: false,
        headers: { 'retry-after': '1' },
      });
    }
  });
});
