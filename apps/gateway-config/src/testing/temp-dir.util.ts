import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Fresh directories for one spec file, each one nginx workers can traverse (when the tests run as root they run
 * as nobody). `removeAll` (for the file's `afterAll`, after anything running in them stopped) deletes them.
 */
export function tempDirs(scope: string): { tempDir: (prefix: string) => string; removeAll: () => void } {
  const dirs: string[] = [];
  return {
    tempDir: (prefix) => {
      const dir = mkdtempSync(join(tmpdir(), `${scope}-${prefix}-`));
      chmodSync(dir, 0o755);
      dirs.push(dir);
      return dir;
    },
    removeAll: () => {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
