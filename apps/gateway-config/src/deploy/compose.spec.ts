import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadTopology } from '@keyflow/topology';
import { renderAll } from '../render/render.service';

const REPO_ROOT = join(__dirname, '../../../..');
const COMPOSE_DIR = join(REPO_ROOT, 'deploy/compose');
const COMPOSE_FILE = join(COMPOSE_DIR, 'docker-compose.yml');
const topology = loadTopology(join(REPO_ROOT, 'deploy/topologies/compose.yaml'));
/** Where the containers mount ./config, and the run dir the configs were rendered for. */
const CONTAINER_PATHS = { outDir: '/etc/keyflow', runDir: '/tmp' };

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  profiles?: string[];
  restart?: string;
}

/** The Compose file as Compose reads it: YAML 1.1 merge keys (`<<: *anchor`) resolved. */
function compose(): { services: Record<string, Service>; volumes: Record<string, unknown> } {
  return parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
}

/** The vendored Compose specification schema (deploy/schemas/README.md says where it comes from). */
function composeValidator(): ReturnType<Ajv2019['compile']> {
  const schema = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/schemas/compose-spec.json'), 'utf8')) as object;
  // The schema names its draft as "http://json-schema.org/draft/2019-09/schema#" (http, trailing #), which is not
  // the meta-schema id Ajv registers, and still carries draft-04 style "id" members that strict mode would reject
  // as unknown keywords: validate with the 2019-09 vocabulary without checking the schema against its meta-schema.
  const ajv = new Ajv2019({ allErrors: true, strict: false, validateSchema: false });
  // Its "id" values are only labels ("#/definitions/service"): an annotation, not a change of base URI.
  ajv.removeKeyword('id');
  ajv.addKeyword({ keyword: 'id', schemaType: 'string' });
  // Compose's own formats, checked as Compose documents them.
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat('ports', /^((\[?[\d.:a-fA-F]+\]?:)?\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat('subnet_ip_address', /^[\d.:a-fA-F]+\/\d+$/);
  return ajv.compile(schema);
}

const apps = [...topology.api.instances, ...topology.worker.instances];

describe('deploy/compose/docker-compose.yml', () => {
  it('should be valid against the Compose specification schema', () => {
    const validate = composeValidator();
    const valid = validate(compose());
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('should fail the schema for a mistake Compose would refuse', () => {
    const validate = composeValidator();
    const broken = compose();
    (broken.services.gateway as Record<string, unknown>).depends_on = { 'api-1': { condition: 'service_ready' } };
    (broken.services.haproxy as Record<string, unknown>).restart_policy = 'always';
    expect(validate(broken)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toEqual(
      expect.arrayContaining(['/services/gateway/depends_on/api-1/condition', '/services/haproxy']),
    );
  });

  it('should run every server of the compose topology as a service of the same name', () => {
    const names = Object.keys(compose().services);
    const hosts = [
      ...topology.gateway.instances.map((g) => g.host),
      ...apps.map((a) => a.host),
      ...topology.redis.nodes.map((n) => n.host),
      ...topology.rabbitmq.nodes.map((n) => n.host),
      ...topology.database.nodes.map((n) => n.host),
      topology.haproxy.host,
      topology.monitoring?.prometheus?.host ?? 'prometheus',
      topology.monitoring?.exporters.redis.host ?? 'redis-exporter',
    ];
    expect(names).toEqual(expect.arrayContaining(hosts));
    expect(names).toEqual(
      expect.arrayContaining(['redis-cluster-init', 'cockroach-init', 'cockroach-setup', 'migrate', 'grafana']),
    );
    expect(topology.database.kind).toBe('cockroach');
  });

  it('should give each api and worker the environment its config schema needs, pointing where the topology says', () => {
    const { services } = compose();
    const { haproxy, redis, worker, database } = topology;
    for (const app of apps) {
      const env = services[app.host]?.environment ?? {};
      expect(env).toMatchObject({
        KEYFLOW_INSTANCE: app.name,
        HOST: '0.0.0.0',
        PORT: String(app.port),
        REDIS_NODES: redis.nodes.map((n) => `${n.host}:${n.port}`).join(','),
        DATABASE_URL: `postgresql://${database.user}@${haproxy.host}:${haproxy.dbWritePort}/${database.name}?sslmode=disable`,
        DATABASE_READ_URL: `postgresql://${database.user}@${haproxy.host}:${haproxy.dbReadPort}/${database.name}?sslmode=disable`,
        KV_SHARDS: String(worker.shards),
      });
      expect(env.AMQP_URL).toBe(
        `amqp://keyflow:\${KEYFLOW_AMQP_PASSWORD:?run deploy/compose/make-secrets.sh}@${haproxy.host}:${haproxy.amqpPort}/keyflow`,
      );
      expect(env).toMatchObject({
        REDIS_USERNAME: 'keyflow',
        REDIS_PASSWORD: '${KEYFLOW_REDIS_APP_PASSWORD:?run deploy/compose/make-secrets.sh}',
      });
      const probe = services[app.host]?.healthcheck?.test.join(' ') ?? '';
      expect(probe).toContain(`http://127.0.0.1:${app.port}/health/ready`);
    }
  });

  it('should only depend on services that exist, waiting for health or completion as each one can report', () => {
    const { services } = compose();
    for (const [name, service] of Object.entries(services)) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        const dependency = services[target];
        expect(dependency, `${name} depends on ${target}`).toBeDefined();
        if (condition === 'service_healthy') expect(dependency?.healthcheck, `${target} healthcheck`).toBeDefined();
        if (condition === 'service_completed_successfully') expect(dependency?.restart, `${target}`).toBe('no');
      }
    }
    // The apps start only after the schema, the Redis cluster and HAProxy are ready.
    for (const app of apps) {
      expect(services[app.host]?.depends_on).toEqual({
        migrate: { condition: 'service_completed_successfully' },
        'redis-cluster-init': { condition: 'service_completed_successfully' },
        haproxy: { condition: 'service_healthy' },
      });
    }
  });

  it('should mount configs that are exactly what the renderer makes from compose.yaml', () => {
    const rendered = renderAll(topology, CONTAINER_PATHS);
    const committed = readdirSync(join(COMPOSE_DIR, 'config')).sort();
    expect(committed).toEqual(rendered.map((f) => f.file).sort());
    for (const { file, content } of rendered) {
      expect(readFileSync(join(COMPOSE_DIR, 'config', file), 'utf8'), `deploy/compose/config/${file} is stale`).toBe(
        content,
      );
    }
  });

  it('should start nginx, HAProxy and Prometheus on the mounted configs', () => {
    const { services } = compose();
    expect(services.gateway?.command).toEqual([
      'nginx',
      '-p',
      '/tmp',
      '-c',
      '/etc/keyflow/nginx.conf',
      '-e',
      '/tmp/nginx-error.log',
    ]);
    expect(services.haproxy?.command).toEqual(['haproxy', '-f', '/etc/keyflow/haproxy.cfg']);
    expect(services.prometheus?.command).toContain('--config.file=/etc/keyflow/prometheus.yml');
    for (const name of ['gateway', 'haproxy', 'prometheus']) {
      expect(services[name]?.volumes).toContain('./config:/etc/keyflow:ro');
    }
    expect(services.prometheus?.profiles).toEqual(['monitoring']);
    expect(services.grafana?.profiles).toEqual(['monitoring']);
  });

  it('should only mount files that exist and volumes that are declared', () => {
    const { services, volumes } = compose();
    for (const service of Object.values(services)) {
      for (const volume of service.volumes ?? []) {
        const [source] = volume.split(':');
        if (source?.startsWith('.')) expect(existsSync(resolve(COMPOSE_DIR, source)), volume).toBe(true);
        else expect(Object.keys(volumes), volume).toContain(source);
      }
    }
  });

  it('should cluster the three RabbitMQ nodes by their service names with one Erlang cookie', () => {
    const conf = readFileSync(join(COMPOSE_DIR, 'rabbitmq/rabbitmq.conf'), 'utf8');
    expect(conf).toContain('cluster_formation.peer_discovery_backend = classic_config');
    topology.rabbitmq.nodes.forEach((n, i) => {
      expect(conf).toContain(`cluster_formation.classic_config.nodes.${i + 1} = rabbit@${n.host}`);
      const service = compose().services[n.host];
      expect(service?.environment?.RABBITMQ_ERLANG_COOKIE).toBe(
        '${KEYFLOW_ERLANG_COOKIE:?run deploy/compose/make-secrets.sh}',
      );
    });
    expect(readFileSync(join(COMPOSE_DIR, 'rabbitmq/enabled_plugins'), 'utf8')).toContain('rabbitmq_prometheus');
  });

  it('should take every password from deploy/compose/.env (made by make-secrets.sh, ignored by git), none by default', () => {
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    const variables = [...text.matchAll(/\$\{(KEYFLOW_[A-Z_]+)([^}]*)\}/g)];
    expect(variables.length).toBeGreaterThan(10);
    for (const [whole, , rest] of variables) expect(rest, whole).toBe(':?run deploy/compose/make-secrets.sh');
    const made = readFileSync(join(COMPOSE_DIR, 'make-secrets.sh'), 'utf8');
    for (const name of new Set(variables.map(([, name]) => name))) expect(made).toContain(`${name}=$(pw)`);
    expect(readFileSync(join(REPO_ROOT, '.gitignore'), 'utf8').split('\n')).toContain('deploy/compose/.env');
    expect(text).not.toMatch(/guest/);
  });

  it("should turn off Redis's default user and keep the apps' user off server commands and other keys", () => {
    const { services } = compose();
    const script = services['redis-1']?.command?.[0] ?? '';
    expect(script).toContain('user default off');
    const app = script.split('\n').find((l) => l.startsWith('user keyflow on')) ?? '';
    expect(app).toContain('-@all');
    expect(app).not.toMatch(/~\*|\+@all|\+config|\+flushall|\+keys\b/);
    expect(script).toContain('masteruser keyflow-replica');
    expect(services['redis-1']?.healthcheck?.test).toEqual(['CMD', 'redis-cli', '--user', 'keyflow-admin', 'ping']);
    expect(services.haproxy?.environment).toMatchObject({ HAPROXY_STATS_USER: 'admin' });
  });

  it('should create the Redis cluster with one replica per master and start CockroachDB nodes that join each other', () => {
    const { services } = compose();
    expect(services['redis-cluster-init']?.command?.[0]).toContain('--cluster-replicas 1 --cluster-yes');
    const join = topology.database.nodes.map((n) => `${n.host}:${n.port}`).join(',');
    for (const node of topology.database.nodes) {
      expect(services[node.host]?.command).toEqual(expect.arrayContaining(['start', '--insecure', `--join=${join}`]));
    }
    expect(services['cockroach-init']?.command?.[0]).toContain('cockroach init --insecure');
  });
});

describe('deploy/docker', () => {
  const dockerfile = () => readFileSync(join(REPO_ROOT, 'deploy/docker/node-app.Dockerfile'), 'utf8');

  it('should build every Node app from one Dockerfile in stages on node:20-bookworm-slim, run compiled as non-root', () => {
    const text = dockerfile();
    expect(text).toContain('ARG NODE_IMAGE=node:20-bookworm-slim');
    expect(text.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)).toEqual([
      'FROM ${NODE_IMAGE} AS build',
      'FROM ${NODE_IMAGE} AS deps',
      'FROM ${NODE_IMAGE} AS runtime',
    ]);
    expect(text).toContain('npx nx run "${APP}:build"');
    const runtime = text.slice(text.indexOf('AS runtime'));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toContain('COPY --from=build /repo/dist/apps/${APP} ./');
    expect(runtime).toContain('CMD ["node", "main.js"]');
    // Nothing that compiles TypeScript at run time reaches the image.
    expect(text).not.toMatch(/swc|NODE_PATH|\.ts"/);
    const ignore = readFileSync(join(REPO_ROOT, 'deploy/docker/node-app.Dockerfile.dockerignore'), 'utf8');
    expect(ignore.split('\n')).toEqual(expect.arrayContaining(['**', '!libs/**', '!apps/**', '**/node_modules']));
  });

  it("should install the production dependencies with install scripts, so argon2's native binding is compiled", () => {
    const deps = dockerfile().slice(dockerfile().indexOf('AS deps'), dockerfile().indexOf('AS runtime'));
    const install = deps.slice(deps.indexOf('RUN (npm ci --omit=dev'));
    expect(install).toContain('npm ci --omit=dev');
    expect(install.slice(0, install.indexOf('node -e'))).not.toContain('--ignore-scripts');
    expect(deps).toContain("require('argon2').hash('probe')");
  });

  it('should give Compose one image per app from that Dockerfile, the migration running its compiled entry', () => {
    const { services } = compose();
    for (const [name, app] of [
      ...apps.map((a) => [a.host, a.host.startsWith('api') ? 'api' : 'worker'] as const),
      ['migrate', 'worker'] as const,
    ]) {
      expect(services[name]?.build, name).toEqual({
        context: '../..',
        dockerfile: 'deploy/docker/node-app.Dockerfile',
        args: { APP: app },
      });
      expect(services[name]?.image, name).toBe(`keyflow-${app}:local`);
    }
    expect(services.migrate?.command).toEqual(['node', 'apps/worker/src/migrate.js']);
    expect(existsSync(join(REPO_ROOT, 'apps/worker/src/migrate.ts'))).toBe(true);
  });
});
