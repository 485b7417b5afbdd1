import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The repository root: the nearest directory at or above `from` that holds `nx.json`, or undefined outside the
 * repository (the caller picks its own fallback). It walks up rather than counting `..`, so the answer is the
 * same from the sources and from a build under `dist/<project root>/`.
 */
export function findRepoRoot(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}
