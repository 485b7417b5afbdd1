import { readStack, type StackInfo } from './stack-contract';

/** One call of RabbitMQ's management API (`/api<path>`) as the stack's management user; a non-2xx rejects. */
export async function managementRequest<T>(path: string, init: RequestInit = {}, stack = readStack()): Promise<T> {
  const auth = Buffer.from(`${stack.managementUser}:${stack.managementPassword}`).toString('base64');
  const response = await fetch(`${stack.management}/api${path}`, {
    ...init,
    headers: { authorization: `Basic ${auth}`, 'content-type': 'application/json' },
  });
  if (!response.ok) throw new Error(`management ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * Up to `count` messages of `queue`, read without taking them: the management API puts each back
 * (`ack_requeue_true`), so the queue is as it was — apart from each message's redelivered flag.
 */
export function peekQueue(
  queue: string,
  count: number,
  stack: StackInfo = readStack(),
): Promise<Array<{ payload: string }>> {
  return managementRequest(
    `/queues/${encodeURIComponent(stack.amqpVhost)}/${encodeURIComponent(queue)}/get`,
    { method: 'POST', body: JSON.stringify({ count, ackmode: 'ack_requeue_true', encoding: 'auto' }) },
    stack,
  );
}
