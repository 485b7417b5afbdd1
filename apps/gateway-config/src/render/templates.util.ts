import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import Handlebars from 'handlebars';

/** Where the `.hbs` files live; read from disk at run time (they are not bundled). */
export const TEMPLATES_DIR = join(__dirname, '..', 'templates');

export type Template<T> = (view: T) => string;

let instance: typeof Handlebars | undefined;

/**
 * One private Handlebars environment with every partial under `templates/partials/` registered.
 * `noEscape`: these are config files, not HTML. `strict`: a field missing from a view model is a bug, so
 * rendering throws instead of printing an empty string into a config.
 */
function environment(): typeof Handlebars {
  if (instance) return instance;
  const hbs = Handlebars.create();
  const partialsDir = join(TEMPLATES_DIR, 'partials');
  for (const file of readdirSync(partialsDir).filter((f) => f.endsWith('.hbs'))) {
    hbs.registerPartial(basename(file, '.hbs'), readFileSync(join(partialsDir, file), 'utf8'));
  }
  instance = hbs;
  return hbs;
}

export function loadTemplate<T>(file: string): Template<T> {
  const source = readFileSync(join(TEMPLATES_DIR, file), 'utf8');
  const compiled = environment().compile<T>(source, { noEscape: true, strict: true });
  return (view: T) => compiled(view);
}
