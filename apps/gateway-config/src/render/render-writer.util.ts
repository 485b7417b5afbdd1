import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RenderedFile } from './render.service';

/**
 * Writes rendered files into `outDir` (created if missing). Each file is written beside its target and
 * renamed over it, so a server reloading at the same moment never reads half a config.
 * Returns the absolute paths written, in order.
 */
export function writeRenderedFiles(files: RenderedFile[], outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  return files.map(({ file, content, mode = 0o644 }) => {
    const target = join(outDir, file);
    const temporary = `${target}.${process.pid}.tmp`;
    writeFileSync(temporary, content, { mode });
    chmodSync(temporary, mode); // writeFileSync's mode is filtered by the umask
    renameSync(temporary, target);
    return target;
  });
}
