import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

/**
 * The value of the first top-level `directive value;` (nginx) or `directive value` (HAProxy) line in a config,
 * so the stack reads pid files where the rendered config puts them instead of guessing.
 */
export function configDirective(text: string, directive: string): string | undefined {
  const pattern = new RegExp(`^\\s*${directive}\\s+("?)([^";\\s]+)\\1\\s*;?\\s*(#.*)?$`, 'm');
  return pattern.exec(text)?.[2];
}

export function configDirectiveFromFile(file: string, directive: string, relativeTo?: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const value = configDirective(readFileSync(file, 'utf8'), directive);
  if (value === undefined || isAbsolute(value) || relativeTo === undefined) return value;
  return join(relativeTo, value);
}
