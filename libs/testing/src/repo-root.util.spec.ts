import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRepoRoot } from './repo-root.util';

describe(findRepoRoot.name, () => {
  it('should walk up to the directory that holds nx.json', () => {
    const root = findRepoRoot(__dirname);
    expect(root).toBe(join(__dirname, '../../..'));
    expect(existsSync(join(root ?? '', 'nx.json'))).toBe(true);
  });

  it('should answer undefined outside the repository', () => {
    expect(findRepoRoot('/')).toBeUndefined();
  });
});
