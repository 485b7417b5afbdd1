import { KeyflowClient, type KeyflowClientOptions } from '@keyflow/client';
import { ContractViolationError, responseContract } from './openapi-contract.util';
import { readStack, type StackInfo } from './stack-contract';

export interface StackClientOptions extends Partial<Pick<KeyflowClientOptions, 'cookie' | 'retry' | 'timeoutMs'>> {
  stack?: StackInfo;
  /** Another gateway of the stack (`stack.gateways`), or an API instance; the stack's first gateway by default. */
  gateway?: string;
  /** Another principal's token; the stack admin's by default. `null`: no token (anonymous, or `login` later). */
  token?: string | null;
}

/**
 * `@keyflow/client` on the test stack, as its admin unless told otherwise: what the e2e suites use for ordinary
 * calls (writes, reads, following an operation), so the repository's tests exercise the client its users get.
 * Every answer of an API instance is checked against `/docs/json` as `gatewayRequest` checks it; a streamed body
 * (watch, backup) only by its status and headers. Requests that are wrong on purpose stay with `gatewayRequest`.
 */
export function stackClient({ stack = readStack(), gateway = stack.gateway, token, ...rest }: StackClientOptions = {}) {
  const bearer = token === null ? undefined : (token ?? stack.token);
  return new KeyflowClient({
    baseUrl: gateway,
    ...(bearer ? { token: bearer } : {}),
    ...rest,
    fetch: contractCheckedFetch(gateway),
  });
}

const STREAMED = /^(text\/event-stream|application\/x-ndjson)/;

/** `fetch`, with every answer that carries `X-Served-By` checked against the API's document. */
export function contractCheckedFetch(gateway: string): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const response = await fetch(request);
    if (!response.headers.has('x-served-by')) return response;
    const streamed = STREAMED.test(response.headers.get('content-type') ?? '');
    const text = streamed ? '' : await response.clone().text();
    const url = new URL(request.url);
    const problems = (await responseContract(gateway))
      .check(request.method, `${url.pathname}${url.search}`, response.status, response.headers, text)
      .filter((problem) => !streamed || !/body/i.test(problem));
    if (problems.length > 0) {
      await response.body?.cancel();
      throw new ContractViolationError(
        `${request.method} ${url.pathname}: the answer does not match /docs/json: ${problems.join(' | ')}\n${text.slice(0, 500)}`,
      );
    }
    return response;
  };
}
