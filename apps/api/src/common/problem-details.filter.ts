import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PROBLEM_CONTENT_TYPE } from './problem.dto';
import { toProblem } from './problem-details.util';

const logger = new Logger('Problem');

/** Sends a problem document for `exception`; shared by the Nest filter and Fastify's error handler. */
export function sendProblem(exception: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const { problem, unexpected, headers } = toProblem(exception);
  if (headers) void reply.headers(headers);
  if (unexpected) {
    const err = exception instanceof Error ? exception : new Error(String(exception));
    // requestId as well as the bound reqId: Fastify's own error handler may answer outside the request's log context.
    logger.error({ err, requestId: request.id, method: request.method, url: request.url }, 'unexpected error');
  }
  void reply
    .status(problem.status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify({ ...problem, instance: request.url.split('?')[0], requestId: request.id }));
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendProblem(exception, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>());
  }
}
