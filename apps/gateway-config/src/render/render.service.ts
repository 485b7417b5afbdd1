import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Topology } from '@keyflow/topology';
import {
  ALERT_RULES_FILE,
  ALERTMANAGER_FILE,
  EDGE_CFG_FILE,
  edgeKeepalivedFile,
  HAPROXY_CFG_FILE,
  keepalivedFile,
  NAMED_CONF_FILE,
  NGINX_CONF_FILE,
  PROMETHEUS_FILE,
  zoneFile,
} from './render.constant';
import { loadTemplate, TEMPLATES_DIR, type Template } from './templates.util';
import { buildHaproxyView, type HaproxyView } from './view-models/haproxy.view-model';
import { buildEdgeView, type EdgeView } from './view-models/edge.view-model';
import {
  buildEdgeKeepalivedViews,
  buildKeepalivedViews,
  type KeepalivedView,
} from './view-models/keepalived.view-model';
import { buildNamedConfView, buildZoneView, type NamedConfView, type ZoneView } from './view-models/named.view-model';
import { buildNginxView, nginxFileNames, type NginxView } from './view-models/nginx.view-model';
import { buildPrometheusView, type PrometheusView } from './view-models/prometheus.view-model';
import type { RenderPaths } from './view-models/view-model.util';

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
  namedConf: Template<NamedConfView>;
  zone: Template<ZoneView>;
  prometheus: Template<PrometheusView>;
  keepalived: Template<KeepalivedView>;
  edge: Template<EdgeView>;
}

let templates: Templates | undefined;

/**
 * Alertmanager's config: alerts are grouped per alert name and kept (its API and UI list them, the console and
 * tests read them); no notifier is configured, as a notification channel is each operator's own choice.
 */
const ALERTMANAGER_CONFIG = `# Rendered by apps/gateway-config. Add a receiver (email, webhook, …) to be notified; until then alerts are
# listed by Alertmanager's API and UI only.
route:
  receiver: keyflow
  group_by: [alertname]
  group_wait: 5s
  group_interval: 30s
  repeat_interval: 4h
receivers:
  - name: keyflow
`;

function compiledTemplates(): Templates {
  templates ??= {
    nginx: loadTemplate<NginxView>('nginx.conf.hbs'),
    haproxy: loadTemplate<HaproxyView>('haproxy.cfg.hbs'),
    namedConf: loadTemplate<NamedConfView>('named.conf.hbs'),
    zone: loadTemplate<ZoneView>('zone.hbs'),
    prometheus: loadTemplate<PrometheusView>('prometheus.yml.hbs'),
    keepalived: loadTemplate<KeepalivedView>('keepalived.conf.hbs'),
    edge: loadTemplate<EdgeView>('haproxy-edge.cfg.hbs'),
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
 * Always nginx.conf and haproxy.cfg; the rest only when the topology asks for them:
 * `named.conf` + `<zone>.zone` with `dns`, `prometheus.yml` with
 * `monitoring.prometheus`, one `keepalived-<peer>.conf` per peer with `haproxy.redundancy`, and with `edge`
 * `haproxy-edge.cfg` plus one `keepalived-edge-<peer>.conf` per edge peer.
 * The self-signed TLS certificate is not rendered here: the CLI creates it (see cli.service.ts).
 */
export function renderAll(topology: Topology, paths: RenderPaths): RenderedFile[] {
  assertUsablePath('runDir', paths.runDir);
  assertUsablePath('outDir', paths.outDir);
  const t = compiledTemplates();
  const files: RenderedFile[] = [
    { file: NGINX_CONF_FILE, content: t.nginx(buildNginxView(topology, paths)) },
    { file: HAPROXY_CFG_FILE, content: t.haproxy(buildHaproxyView(topology, paths)) },
  ];
  if (topology.dns) {
    files.push(
      { file: NAMED_CONF_FILE, content: t.namedConf(buildNamedConfView(topology, paths)) },
      { file: zoneFile(topology.dns.zone), content: t.zone(buildZoneView(topology)) },
    );
  }
  if (topology.monitoring?.prometheus) {
    files.push({ file: PROMETHEUS_FILE, content: t.prometheus(buildPrometheusView(topology, paths)) });
    if (topology.monitoring.alertmanager) {
      files.push(
        { file: ALERT_RULES_FILE, content: readFileSync(join(TEMPLATES_DIR, 'monitoring', ALERT_RULES_FILE), 'utf8') },
        { file: ALERTMANAGER_FILE, content: ALERTMANAGER_CONFIG },
      );
    }
  }
  for (const view of buildKeepalivedViews(topology)) {
    files.push({ file: keepalivedFile(view.peer), content: t.keepalived(view) });
  }
  if (topology.edge) {
    files.push({ file: EDGE_CFG_FILE, content: t.edge(buildEdgeView(topology, paths)) });
    for (const view of buildEdgeKeepalivedViews(topology)) {
      files.push({ file: edgeKeepalivedFile(view.peer), content: t.keepalived(view) });
    }
  }
  return files;
}

/**
 * One `nginx-<gateway>.conf` per gateway instance: each gateway address as its own nginx process, with its own
 * pid file, logs and temp dirs, so one can die alone (the local stack supervises each). `nginx.conf` (from
 * `renderAll`) stays the config of one nginx serving every gateway, as a container runs it.
 */
export function renderGatewayConfigs(topology: Topology, paths: RenderPaths): RenderedFile[] {
  assertUsablePath('runDir', paths.runDir);
  assertUsablePath('outDir', paths.outDir);
  const t = compiledTemplates();
  return topology.gateway.instances.map((g) => ({
    file: nginxFileNames(g.name).conf,
    content: t.nginx(buildNginxView(topology, paths, g.name)),
  }));
}
