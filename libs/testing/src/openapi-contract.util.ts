import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * Checks a response the e2e suites receive against the API's own OpenAPI document (`/docs/json`), so the document
 * cannot drift from what the API answers: the status must be documented for the operation, the body must match the
 * documented schema of its content type, and every header the document declares for it must be there.
 *
 * Only answers of an API instance are checked (they carry `X-Served-By`): what nginx answers itself (502 while every
 * API is down, 413 past the gateway's body limit) is the gateway's, not in the API's document. Paths the document
 * does not list (`/metrics`, `/docs/json`) are not checked.
 */

interface MediaType {
  schema?: unknown;
}

interface ResponseObject {
  headers?: Record<string, unknown>;
  content?: Record<string, MediaType>;
}

interface OperationObject {
  operationId?: string;
  responses?: Record<string, ResponseObject>;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, unknown> };
}

export class ContractViolationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = ContractViolationError.name;
  }
}

interface PathTemplate {
  template: string;
  pattern: RegExp;
  params: number;
}

const DOCUMENT_ID = 'openapi';

/** `#/components/…` pointers, made absolute so that a response's schema compiled alone still resolves them. */
function absoluteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(absoluteRefs);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      key === '$ref' && typeof inner === 'string' && inner.startsWith('#/')
        ? `${DOCUMENT_ID}${inner}`
        : absoluteRefs(inner),
    ]),
  );
}

function templateOf(template: string): PathTemplate {
  const parts = template.split(/(\{[^}]+\})/);
  const source = parts
    .map((part) => (/^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return { template, pattern: new RegExp(`^${source}$`), params: parts.filter((p) => p.startsWith('{')).length };
}

export class ResponseContract {
  // `format` is checked too (uuid, date-time, …): a timestamp that is not one is drift like any other.
  private readonly ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
  private readonly templates: PathTemplate[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument) {
    this.ajv.addSchema({ $id: DOCUMENT_ID, components: absoluteRefs(document.components ?? {}) });
    // The most literal template first: `/v1/auth/tokens` before `/v1/auth/tokens/{id}` when both could match.
    this.templates = Object.keys(document.paths)
      .map(templateOf)
      .sort((a, b) => a.params - b.params);
  }

  /** What is wrong with one response, as sentences; empty when it matches the document (or is not checked). */
  check(method: string, url: string, status: number, headers: Headers, text: string): string[] {
    if (!headers.has('x-served-by')) return [];
    const path = url.split('?')[0];
    const template = this.templates.find((t) => t.pattern.test(path));
    const operation = template && this.document.paths[template.template]?.[method.toLowerCase()];
    if (template === undefined || operation === undefined) return [];
    const where = `${method.toUpperCase()} ${template.template} → ${status}`;
    const responses = operation.responses ?? {};
    const documented = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
    if (documented === undefined) {
      return [`${where}: status not documented (documented: ${Object.keys(responses).join(', ')})`];
    }
    const problems: string[] = [];
    for (const name of Object.keys(documented.headers ?? {})) {
      if (!headers.has(name)) problems.push(`${where}: documented header ${name} missing`);
    }
    const contentType = (headers.get('content-type') ?? '').split(';')[0].trim();
    const content = documented.content ?? {};
    if (text === '') {
      if (Object.keys(content).length > 0 && status !== 204) problems.push(`${where}: empty body, documented content`);
      return problems;
    }
    const media = content[contentType];
    if (media === undefined) {
      problems.push(
        `${where}: content type ${contentType || '(none)'} not documented (${Object.keys(content).join(', ') || 'none'})`,
      );
      return problems;
    }
    if (media.schema === undefined || !contentType.endsWith('json')) return problems;
    const validate = this.validator(`${template.template} ${method} ${status} ${contentType}`, media.schema);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return [...problems, `${where}: the body is not JSON`];
    }
    if (!validate(body)) {
      const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`.trim());
      problems.push(`${where}: the body does not match the documented schema: ${errors.join('; ')}`);
    }
    return problems;
  }

  private validator(key: string, schema: unknown): ValidateFunction {
    let validate = this.validators.get(key);
    if (validate === undefined) {
      validate = this.ajv.compile(absoluteRefs(schema) as object);
      this.validators.set(key, validate);
    }
    return validate;
  }
}

const contracts = new Map<string, Promise<ResponseContract>>();

/** The contract of the API behind `gateway`, read once per test file from its `/docs/json`. */
export function responseContract(gateway: string): Promise<ResponseContract> {
  let contract = contracts.get(gateway);
  if (contract === undefined) {
    contract = fetch(`${gateway}/docs/json`, { signal: AbortSignal.timeout(30_000) })
      .then(async (response) => {
        if (!response.ok) throw new Error(`${gateway}/docs/json answered ${response.status}`);
        return new ResponseContract((await response.json()) as OpenApiDocument);
      })
      .catch((error: unknown) => {
        contracts.delete(gateway);
        throw error;
      });
    contracts.set(gateway, contract);
  }
  return contract;
}
