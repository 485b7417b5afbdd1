import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIENT_GENERATED_DIR, clientFiles, DOCUMENT_FILE, servedDocument, TYPES_FILE } from './openapi-export';

/**
 * `@keyflow/client` is generated from the document the API serves: its committed copy of the document and the types
 * generated from it must be what the API serves now. A route or DTO change without `npm run client:generate` (which
 * runs this file with `-u`) fails here, so the client can never drift from the API.
 */
describe('@keyflow/client generated files', () => {
  it('should be generated from the document the API serves now', { timeout: 60_000 }, async () => {
    const files = await clientFiles(await servedDocument());
    await expect(files[DOCUMENT_FILE]).toMatchFileSnapshot(join(CLIENT_GENERATED_DIR, DOCUMENT_FILE));
    await expect(files[TYPES_FILE]).toMatchFileSnapshot(join(CLIENT_GENERATED_DIR, TYPES_FILE));
  });
});
