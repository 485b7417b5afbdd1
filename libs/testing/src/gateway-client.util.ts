import { readStack, type StackInfo } from './stack-contract';
import { adminAuthHeaders } from './stack-control';

/** A JSON body (or `{}` when there is none) and the status, as the e2e suites assert them. */
export interface GatewayResponse {
  status: number;
  json: Record<string, unknown>;
}

/**
 * One JSON request through the stack's gateway as its admin (headers given override, so a cookie or another
 * token can stand in). Network errors reject: a suite that counts them as failures catches them itself.
 */
export async function gatewayRequest(
  method: string,
  path: string,
  {
    body,
    headers = {},
    timeoutMs = 30_000,
    stack = readStack(),
  }: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number; stack?: StackInfo } = {},
): Promise<GatewayResponse> {
  const response = await fetch(stack.gateway + path, {
    method,
    signal: AbortSignal.timeout(timeoutMs),
    headers: {
      ...adminAuthHeaders(stack),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** The Redis cluster nodes of `stack.json` (`host:port` strings) as ioredis wants them. */
export function redisNodes(stack: StackInfo = readStack()): Array<{ host: string; port: number }> {
  return stack.redis.map((node) => ({
    host: node.slice(0, node.lastIndexOf(':')),
    port: Number(node.slice(node.lastIndexOf(':') + 1)),
  }));
}
