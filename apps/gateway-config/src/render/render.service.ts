import { isAbsolute } from 'node:path';
import type { Topology } from '@keyflow/topology';
import { HAPROXY_CFG_FILE, NGINX_CONF_FILE, PG_PRIMARY_CHECK_FILE } from './render.constant';
import { loadTemplate, type Template } from './templates.util';
import {
  buildHaproxyView,
  buildNginxView,
  buildPgPrimaryCheckView,
  type HaproxyView,
  type NginxView,
  type PgPrimaryCheckView,
  type RenderPaths,
} from './view-model.util';

export interface RenderedFile {
  /** File name inside the out dir. */
  file: string;
  content: string;
  /** File mode to write it with; default 0644. */
  mode?: number;
}

interface Templates {
  nginx: Template<NginxView>;
  haproxy: Template<HaproxyView>;
  pgPrimaryCheck: Template<PgPrimaryCheckView>;
}

let templates: Templates | undefined;

function compiledTemplates(): Templates {
  templates ??= {
    nginx: loadTemplate<NginxView>('nginx.conf.hbs'),
    haproxy: loadTemplate<HaproxyView>('haproxy.cfg.hbs'),
    pgPrimaryCheck: loadTemplate<PgPrimaryCheckView>('pg-primary-check.sh.hbs'),
  };
  return templates;
}

/**
 * Paths are printed into nginx and HAProxy configs unquoted; both need them absolute (nginx resolves relative
 * ones against its prefix, HAProxy against its working directory, which `-D` changes to /).
 */
function assertUsablePath(what: string, path: string): void {
  if (!isAbsolute(path)) throw new Error(`${what} must be an absolute path, got "${path}"`);
  if (/[\s'"`;{}$#\\]/.test(path)) {
    throw new Error(`${what} must not contain whitespace, quotes or any of ; { } $ # \\ (got "${path}")`);
  }
}

/**
 * Renders every config file for one topology. Pure: reads only the templates, writes nothing.
 * `pg-primary-check.sh` (HAProxy's primary detection) is only rendered for a postgres database.
 */
export function renderAll(topology: Topology, paths: RenderPaths): RenderedFile[] {
  assertUsablePath('runDir', paths.runDir);
  assertUsablePath('outDir', paths.outDir);
  const t = compiledTemplates();
  const files: RenderedFile[] = [
    { file: NGINX_CONF_FILE, content: t.nginx(buildNginxView(topology, paths)) },
    { file: HAPROXY_CFG_FILE, content: t.haproxy(buildHaproxyView(topology, paths)) },
  ];
  if (topology.database.kind === 'postgres') {
    files.push({
      file: PG_PRIMARY_CHECK_FILE,
      content: t.pgPrimaryCheck(buildPgPrimaryCheckView(topology)),
      mode: 0o755,
    });
  }
  return files;
}
