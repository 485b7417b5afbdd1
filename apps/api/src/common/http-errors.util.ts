import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { HttpException, HttpStatus } from '@nestjs/common';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorCode } from '@keyflow/contracts';
import { sendProblem } from './problem-details.filter';
import { PROBLEM_CONTENT_TYPE } from './problem.dto';

/*
 * Answers for requests that never reach a route handler, as problem documents like every other error:
 * Fastify's router only knows "not found", takes any Content-Encoding as plain, and writes its own URL and
 * connection errors as plain JSON.
 */

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * A path that has routes, but none for the request's method, gets 405 with `Allow` (RFC 9110 section 15.5.6)
 * instead of 404. Checked only for requests the router did not match, against the router itself.
 */
export function answerMethodNotAllowed(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.is404) {
      done();
      return;
    }
    const path = request.url.split('?')[0] ?? '';
    const allowed = METHODS.filter((method) => method !== request.method && fastify.findRoute({ method, url: path }));
    if (allowed.length === 0) {
      done();
      return;
    }
    void reply.header('allow', allowed.join(', '));
    done(
      new HttpException(
        `${path} does not take ${request.method}; it takes ${allowed.join(', ')}`,
        HttpStatus.METHOD_NOT_ALLOWED,
      ),
    );
  });
}

/**
 * keyflow takes request bodies as they are (`identity`) and decodes no content coding: a compressed body
 * would otherwise be parsed as if it were plain. RFC 9110 section 12.5.3: answer 415 and say, with
 * `Accept-Encoding`, which codings would have been taken.
 */
export function refuseContentCodings(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const header = request.headers['content-encoding'];
    const hasBody =
      request.headers['transfer-encoding'] !== undefined ||
      (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');
    const codings = (header ?? '')
      .split(',')
      .map((coding) => coding.trim().toLowerCase())
      .filter((coding) => coding !== '' && coding !== 'identity');
    if (!hasBody || codings.length === 0) {
      done();
      return;
    }
    void reply.header('accept-encoding', 'identity');
    done(
      new HttpException(
        `the body is sent with Content-Encoding: ${header?.trim()}; keyflow takes request bodies without a content ` +
          'coding (identity) only',
        HttpStatus.UNSUPPORTED_MEDIA_TYPE,
      ),
    );
  });
}

/**
 * Fastify's `frameworkErrors`: errors raised while routing, before any hook runs (a path whose percent-encoding
 * does not decode, a parameter over `maxParamLength`).
 */
export function frameworkErrorHandler(instance: string) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    void reply.header('x-served-by', instance);
    const exception =
      error.code === 'FST_ERR_BAD_URL'
        ? new DomainError(
            ErrorCode.INVALID_REQUEST,
            'the URL path is not valid percent-encoded UTF-8 (a key like "a/b é" is sent as a%2Fb%20%C3%A9)',
          )
        : error;
    sendProblem(exception, request, reply);
  };
}

/**
 * Fastify's `clientErrorHandler`: a connection that did not send valid HTTP (or sent it too slowly, or with
 * headers too large) has no request, so no request id; it still gets a problem document, then is closed.
 */
export function clientErrorHandler(instance: string) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, title, detail] =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [HttpStatus.REQUEST_TIMEOUT, 'Request timeout', 'the request was not received in time']
        : error.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request header fields too large', 'the request headers are larger than the server accepts']
          : [HttpStatus.BAD_REQUEST, 'Bad request', 'the request is not valid HTTP/1.1'];
    const body = JSON.stringify({ type: 'about:blank', title, status, detail });
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
          `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Served-By: ${instance}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(error);
  };
}
