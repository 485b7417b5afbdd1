import Fastify, { type FastifyInstance } from 'fastify';

/** The baseline: bare Fastify doing no work, `GET /hello` → `{"ok":true}` and `PUT /hello` echoing its body. */
export function buildHelloServer(): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/hello', (_request, reply) => reply.send({ ok: true }));
  app.put('/hello', (request, reply) => reply.send(request.body ?? {}));
  return app;
}
