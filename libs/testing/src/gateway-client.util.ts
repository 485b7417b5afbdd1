import { ContractViolationError, responseContract } from './openapi-contract.util';
import { readStack, type StackInfo } from './stack-contract';
import { adminAuthHeaders } from './stack-control';

/** A response as the e2e suites assert it: status, headers, the body as text and as JSON. */
export interface GatewayResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body as JSON; `{}` when it is empty (or, with `expectJson: false`, when it is not JSON). */
  json: Record<string, unknown>;
}

export interface GatewayRequestOptions {
  /** Sent as JSON, with `content-type: application/json` unless `headers` name another. */
  body?: unknown;
  /** Sent as it is (malformed JSON, a form), with `content-type: application/json` unless `headers` name another. */
  rawBody?: string;
  /** Override the defaults: a cookie or another token can stand in for the admin's. */
  headers?: Record<string, string>;
  timeoutMs?: number;
  stack?: StackInfo;
  /** Another gateway of the stack (`stack.gateways`); the stack's first one by default. */
  gateway?: string;
  /** Sign the request as the stack's admin (default); `false` sends only `headers`. */
  asAdmin?: boolean;
  /** A body that is not JSON makes the request reject (default); `false` keeps it in `text`. */
  expectJson?: boolean;
  /**
   * Check the answer against the API's OpenAPI document (default): an undocumented status, header or body shape
   * rejects with `ContractViolationError`. `false` only where a test reaches past the API on purpose.
   */
  contract?: boolean;
}

/**
 * One request through the stack's gateway, as its admin unless told otherwise. Network errors and, unless
 * `expectJson` is false, a body that is not JSON reject: a suite that counts them as failures catches them itself.
 */
export async function gatewayRequest(
  method: string,
  path: string,
  {
    body,
    rawBody,
    headers = {},
    timeoutMs = 30_000,
    stack = readStack(),
    gateway = stack.gateway,
    asAdmin = true,
    expectJson = true,
    contract = true,
  }: GatewayRequestOptions = {},
): Promise<GatewayResponse> {
  const payload = rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
  const response = await fetch(gateway + path, {
    method,
    signal: AbortSignal.timeout(timeoutMs),
    headers: {
      ...(asAdmin ? adminAuthHeaders(stack) : {}),
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(payload === undefined ? {} : { body: payload }),
  });
  const text = await response.text();
  // Only an API's answer is in its document (see ResponseContract); nothing else needs it fetched.
  if (contract && response.headers.has('x-served-by')) {
    const problems = (await responseContract(gateway)).check(method, path, response.status, response.headers, text);
    if (problems.length > 0) {
      throw new ContractViolationError(
        `the answer does not match /docs/json: ${problems.join(' | ')}\n${text.slice(0, 500)}`,
      );
    }
  }
  return { status: response.status, headers: response.headers, text, json: parseJson(text, expectJson) };
}

function parseJson(text: string, strict: boolean): Record<string, unknown> {
  if (!text) return {};
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    if (strict) throw err;
    return {};
  }
}

/** The Redis cluster nodes of `stack.json` (`host:port` strings) as ioredis wants them. */
export function redisNodes(stack: StackInfo = readStack()): Array<{ host: string; port: number }> {
  return stack.redis.map((node) => ({
    host: node.slice(0, node.lastIndexOf(':')),
    port: Number(node.slice(node.lastIndexOf(':') + 1)),
  }));
}

/**
 * A Redis ACL login of the stack, as ioredis options (`redisOptions` of a Cluster, or a node client's options):
 * `app` can do only what the apps do (their commands, their key patterns), `admin` everything (INFO, ROLE,
 * CONFIG, DEBUG, SCAN of any key).
 */
export function redisLogin(
  who: 'app' | 'admin' = 'admin',
  stack: StackInfo = readStack(),
): { username: string; password: string } {
  const { username, password } = stack.credentials.redis[who];
  return { username, password };
}

/**
 * `gatewayRequest` for suites that kill servers under load: a request that fails (refused, cut, timed out, or
 * answered with something that is not JSON) answers status 0 instead of rejecting.
 */
export function tryGatewayRequest(
  method: string,
  path: string,
  options: GatewayRequestOptions = {},
): Promise<GatewayResponse> {
  // A contract violation is a failure of the test, not of the network.
  return gatewayRequest(method, path, options).catch((error: unknown) => {
    if (error instanceof ContractViolationError) throw error;
    return { status: 0, headers: new Headers(), text: '', json: {} };
  });
}
