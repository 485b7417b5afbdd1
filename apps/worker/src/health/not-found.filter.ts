import { type ArgumentsHost, Catch, type ExceptionFilter, NotFoundException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A path the worker does not serve: a JSON problem document, as the worker's HTTP surface has always answered. */
@Catch(NotFoundException)
export class NotFoundFilter implements ExceptionFilter {
  catch(_exception: NotFoundException, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const path = http.getRequest<FastifyRequest>().url.split('?')[0];
    void http
      .getResponse<FastifyReply>()
      .status(404)
      .send({ type: 'about:blank', title: 'Not found', status: 404, detail: `no route ${path}` });
  }
}
