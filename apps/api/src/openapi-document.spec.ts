import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { openApiTestingApp } from './openapi/openapi-export';

/**
 * The OpenAPI document as a consumer checks it: Redocly's `recommended` rules (what `redocly lint` runs) and the
 * OpenAPI 3.0 JSON schema, on `/docs/json` and `/docs/yaml` as the API serves them (the real module graph with fake
 * clients, so every route of the app is in it). A client generator stops at the first error either reports.
 *
 * Warnings kept, and why (anything else fails the test):
 * - `operation-4xx-response` on `/health/live` and `/health/ready`: they take no input and no credentials, so they
 *   have no 4xx answer to document; inventing one would make the document lie.
 */
const KEPT_WARNINGS = new Set([
  'operation-4xx-response #/paths/~1health~1live/get/responses',
  'operation-4xx-response #/paths/~1health~1ready/get/responses',
]);

let app: NestFastifyApplication;

beforeAll(async () => {
  app = await openApiTestingApp();
});

afterAll(async () => {
  await app?.close();
});

async function served(path: string): Promise<string> {
  const response = await app.inject({ method: 'GET', url: path });
  expect(response.statusCode).toBe(200);
  return response.body;
}

async function redoclyProblems(source: string, file: string): Promise<NormalizedProblem[]> {
  const lintConfig = await createConfig({ extends: ['recommended'] });
  return lintFromString({ source, absoluteRef: file, config: lintConfig });
}

const describeProblem = (p: NormalizedProblem): string =>
  `${p.ruleId} ${p.location[0]?.pointer ?? ''}`.trim() + (p.severity === 'error' ? ` (${p.message})` : '');

describe('the OpenAPI document', () => {
  it.each(['/docs/json', '/docs/yaml'])(
    '%s should pass Redocly’s recommended rules with no errors',
    { timeout: 30_000 },
    async (path) => {
      const problems = await redoclyProblems(await served(path), `openapi${path.endsWith('yaml') ? '.yaml' : '.json'}`);
      expect(problems.filter((p) => p.severity === 'error').map(describeProblem)).toEqual([]);
      const warnings = problems.filter((p) => p.severity === 'warn').map(describeProblem);
      expect(warnings.filter((w) => !KEPT_WARNINGS.has(w))).toEqual([]);
    },
  );

  it.each(['/docs/json', '/docs/yaml'])(
    '%s should be valid against the OpenAPI 3 schema',
    { timeout: 30_000 },
    async (path) => {
      const text = await served(path);
      const document = path.endsWith('yaml')
        ? (parseYaml(text) as Record<string, unknown>)
        : (JSON.parse(text) as Record<string, unknown>);
      const result = await new Validator().validate(document);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
    },
  );

  it('should name its servers and licence, and give every response header a schema', async () => {
    const document = JSON.parse(await served('/docs/json')) as {
      servers: Array<{ url: string }>;
      info: { license?: { name: string } };
      paths: Record<string, Record<string, { responses: Record<string, { headers?: Record<string, object> }> }>>;
    };
    expect(document.servers.length).toBeGreaterThan(0);
    expect(document.info.license?.name).toBe('MIT');
    const headers = Object.values(document.paths)
      .flatMap((operations) => Object.values(operations))
      .flatMap((operation) => Object.values(operation.responses ?? {}))
      .flatMap((response) => Object.values(response.headers ?? {}));
    expect(headers.length).toBeGreaterThan(0);
    for (const header of headers) expect(header).toHaveProperty('schema');
  });

  it('should let a value be any JSON, not only an object', async () => {
    const document = JSON.parse(await served('/docs/json')) as {
      components: { schemas: Record<string, { properties: Record<string, { type?: string; oneOf?: unknown[] }> }> };
    };
    for (const dto of ['KvEntryResponseDto', 'KvPutDto', 'StorePutDto', 'StoreGetResponseDto']) {
      const value = document.components.schemas[dto]?.properties.value;
      expect(value?.type, dto).toBeUndefined();
      expect(value?.oneOf, dto).toHaveLength(5);
    }
  });
});
