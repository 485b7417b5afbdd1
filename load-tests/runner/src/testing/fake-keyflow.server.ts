import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';

/**
 * An in-memory stand-in for the keyflow HTTP contract, for testing the load tooling without the real stack:
 * `/v1/kv/{key}` (writes answer 202 and apply after `applyDelayMs`, like the queue-backed write path),
 * `/v1/operations/{id}`, and the reference-store routes `/store`. With `token` set, every request needs
 * `Authorization: Bearer <token>`. Not a model of keyflow's behaviour under load — only of its answers.
 */
export interface FakeKeyflowOptions {
  applyDelayMs?: number;
  token?: string;
}

interface StoredValue {
  value: unknown;
  version: number;
  updatedAt: string;
}

interface Operation {
  id: string;
  key: string;
  type: 'put' | 'delete';
  status: 'accepted' | 'applied';
  version?: number;
}

export function buildFakeKeyflow(options: FakeKeyflowOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false });
  const store = new Map<string, StoredValue>();
  const operations = new Map<string, Operation>();
  const applyDelayMs = options.applyDelayMs ?? 5;

  const problem = (reply: FastifyReply, status: number, title: string, detail: string): FastifyReply =>
    reply.code(status).type('application/problem+json').send({ type: 'about:blank', title, status, detail });

  const apply = (op: Operation, value: unknown): void => {
    const current = store.get(op.key);
    const version = (current?.version ?? 0) + 1;
    if (op.type === 'put') store.set(op.key, { value, version, updatedAt: new Date().toISOString() });
    else store.delete(op.key);
    op.status = 'applied';
    op.version = version;
  };

  const accept = (reply: FastifyReply, key: string, type: Operation['type'], value?: unknown): FastifyReply => {
    const op: Operation = { id: randomUUID(), key, type, status: 'accepted' };
    operations.set(op.id, op);
    // Equal delays keep the per-key order the real write path guarantees.
    setTimeout(() => apply(op, value), applyDelayMs).unref();
    return reply
      .code(202)
      .header('location', `/v1/operations/${op.id}`)
      .send({ operationId: op.id, key, status: 'accepted' });
  };

  if (options.token !== undefined) {
    const expected = `Bearer ${options.token}`;
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers.authorization !== expected)
        await problem(reply, 401, 'Unauthorized', 'bearer token required');
    });
  }

  app.put<{ Params: { key: string }; Body: { value?: unknown } }>('/v1/kv/:key', async (request, reply) => {
    if (request.body?.value === undefined) return problem(reply, 400, 'Bad Request', 'body must be {"value": …}');
    return accept(reply, request.params.key, 'put', request.body.value);
  });

  app.get<{ Params: { key: string } }>('/v1/kv/:key', async (request, reply) => {
    const stored = store.get(request.params.key);
    if (stored === undefined) return problem(reply, 404, 'Not Found', `no key '${request.params.key}'`);
    return reply.header('etag', `"${stored.version}"`).send({ key: request.params.key, ...stored });
  });

  app.delete<{ Params: { key: string } }>('/v1/kv/:key', async (request, reply) =>
    accept(reply, request.params.key, 'delete'),
  );

  app.get<{ Params: { id: string } }>('/v1/operations/:id', async (request, reply) => {
    const op = operations.get(request.params.id);
    if (op === undefined) return problem(reply, 404, 'Not Found', `no operation '${request.params.id}'`);
    return reply.send(op);
  });

  app.put<{ Body: { key?: string; value?: unknown } }>('/store', async (request, reply) => {
    const { key, value } = request.body ?? {};
    if (typeof key !== 'string' || value === undefined)
      return problem(reply, 400, 'Bad Request', 'body must be {"key", "value"}');
    const current = store.get(key);
    store.set(key, { value, version: (current?.version ?? 0) + 1, updatedAt: new Date().toISOString() });
    return reply.send({ key, value });
  });

  app.get<{ Params: { key: string } }>('/store/:key', async (request, reply) => {
    const stored = store.get(request.params.key);
    if (stored === undefined) return problem(reply, 404, 'Not Found', `no key '${request.params.key}'`);
    return reply.send({ value: stored.value });
  });

  app.delete<{ Params: { key: string } }>('/store/:key', async (request, reply) =>
    accept(reply, request.params.key, 'delete'),
  );

  return app;
}
