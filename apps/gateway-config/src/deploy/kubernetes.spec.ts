import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadTopology } from '@keyflow/topology';
import { renderAll } from '../render/render.service';

/** The Secrets the operator makes before installing (README.md, "Secrets"); their values are in no file here. */
const OPERATOR_SECRETS = ['keyflow-db', 'keyflow-redis'];

const REPO_ROOT = join(__dirname, '../../../..');
const K8S_DIR = join(REPO_ROOT, 'deploy/kubernetes');
const SCHEMA_FILE = join(REPO_ROOT, 'deploy/schemas/kubernetes/kubernetes-1.30.json');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

interface Container {
  name: string;
  image: string;
  ports?: Array<{ name: string; containerPort: number }>;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  readinessProbe?: { httpGet?: { path: string; port: string } };
  livenessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface Kustomization {
  resources: string[];
  configMapGenerator: Array<{ name: string; files: string[] }>;
}

const kustomization = parse(readFileSync(join(K8S_DIR, 'kustomization.yaml'), 'utf8')) as Kustomization;

/** Every object the kustomization applies, from every resource file, in order. */
function manifests(): Array<Manifest & { file: string }> {
  return kustomization.resources.flatMap((file) =>
    parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8')).map((doc) => ({
      ...(doc.toJS() as Manifest),
      file,
    })),
  );
}

function find(kind: string, name: string): Manifest {
  const found = manifests().find((m) => m.kind === kind && m.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

/** The vendored Kubernetes 1.30 schemas: apiVersion + kind → a validator. */
function kubernetesValidators(): (m: Manifest) => { valid: boolean; errors: string[] } {
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as { $id: string; roots: Record<string, string> };
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(schema);
  return (m) => {
    // core objects are "v1"; named groups drop their domain: networking.k8s.io/v1 → networking/v1.
    const group = m.apiVersion.includes('/') ? m.apiVersion.replace(/\.k8s\.io\//, '/') : `core/${m.apiVersion}`;
    const pointer = schema.roots[`${group}/${m.kind}`];
    if (!pointer) return { valid: false, errors: [`no vendored schema for ${m.apiVersion} ${m.kind}`] };
    const validate = ajv.getSchema(`${schema.$id}${pointer}`);
    if (!validate) throw new Error(`schema ${pointer} did not compile`);
    const { file: _file, ...object } = m as Manifest & { file?: string };
    const valid = validate(object) as boolean;
    return { valid, errors: (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`) };
  };
}

/** Custom resources of the operators: checked for the fields keyflow relies on, not against their CRDs. */
const CUSTOM_RESOURCES: Record<string, (m: Manifest) => void> = {
  'crdb.cockroachlabs.com/v1alpha1/CrdbCluster': (m) => {
    expect(m.spec).toMatchObject({ tlsEnabled: true, dataStore: { pvc: { spec: expect.any(Object) } } });
    expect(m.spec?.nodes).toBeGreaterThanOrEqual(3);
  },
  'rabbitmq.com/v1beta1/RabbitmqCluster': (m) => {
    // Quorum queues with 3 members need 3 nodes.
    expect(m.spec?.replicas).toBeGreaterThanOrEqual(3);
  },
  // The Messaging Topology Operator: keyflow's vhost, its user (no tags: no management access) and its rights.
  'rabbitmq.com/v1beta1/Vhost': (m) => {
    expect(m.spec).toEqual({ name: 'keyflow', rabbitmqClusterReference: { name: 'keyflow-rabbitmq' } });
  },
  'rabbitmq.com/v1beta1/User': (m) => {
    expect(m.spec).toEqual({ tags: [], rabbitmqClusterReference: { name: 'keyflow-rabbitmq' } });
  },
  'rabbitmq.com/v1beta1/Permission': (m) => {
    expect(m.spec).toMatchObject({ vhost: 'keyflow', rabbitmqClusterReference: { name: 'keyflow-rabbitmq' } });
  },
};

const containerOf = (deployment: Manifest): Container =>
  (deployment.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0];

describe('deploy/kubernetes', () => {
  it('should list resource files that exist', () => {
    for (const file of kustomization.resources) expect(existsSync(join(K8S_DIR, file)), file).toBe(true);
  });

  it('should contain only objects that pass the Kubernetes 1.30 schemas, or known operator resources', () => {
    const validate = kubernetesValidators();
    const failures: string[] = [];
    for (const m of manifests()) {
      const key = `${m.apiVersion}/${m.kind}`;
      expect(m.metadata?.name, `${m.file}: ${key} needs metadata.name`).toMatch(/^[a-z0-9-]+$/);
      const custom = CUSTOM_RESOURCES[key];
      if (custom) {
        custom(m);
        continue;
      }
      const result = validate(m);
      if (!result.valid) failures.push(`${m.file} ${key} ${m.metadata.name}: ${result.errors.join('; ')}`);
    }
    expect(failures).toEqual([]);
  });

  it('should catch a mistake the API server would refuse', () => {
    const validate = kubernetesValidators();
    const deployment = structuredClone(find('Deployment', 'keyflow-api'));
    (deployment.spec as Record<string, unknown>).replica = 3;
    delete (deployment.spec as Record<string, unknown>).selector;
    const result = validate(deployment);
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([
      "/spec must have required property 'selector'",
      '/spec must NOT have additional properties',
    ]);
  });

  it('should have the gateway ConfigMap generated from the nginx.conf the renderer makes from kubernetes.yaml', () => {
    const [generator] = kustomization.configMapGenerator;
    expect(generator).toEqual({ name: 'keyflow-gateway-config', files: ['nginx.conf=config/nginx.conf'] });
    const topology = loadTopology(join(REPO_ROOT, 'deploy/topologies/kubernetes.yaml'));
    const rendered = renderAll(topology, { outDir: '/etc/keyflow', runDir: '/tmp' }).find(
      (f) => f.file === 'nginx.conf',
    );
    const committed = readFileSync(join(K8S_DIR, 'config/nginx.conf'), 'utf8');
    expect(committed, 'deploy/kubernetes/config/nginx.conf is stale').toBe(rendered?.content);
    // The object kustomize generates from it passes the ConfigMap schema too.
    const configMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'keyflow-gateway-config' },
      data: { 'nginx.conf': committed },
    };
    expect(kubernetesValidators()(configMap)).toEqual({ valid: true, errors: [] });
    const gateway = containerOf(find('Deployment', 'keyflow-gateway'));
    expect(gateway).toMatchObject({
      command: ['nginx', '-p', '/tmp', '-c', '/etc/keyflow/nginx.conf', '-e', '/tmp/nginx-error.log'],
    });
  });

  it.each([
    ['keyflow-api', 3000],
    ['keyflow-worker', 3100],
  ])('should probe %s on its health endpoints and bound its resources', (name, port) => {
    const deployment = find('Deployment', name);
    const container = containerOf(deployment);
    expect(container.ports).toEqual([{ name: 'http', containerPort: port }]);
    expect(container.readinessProbe?.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container.livenessProbe?.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(Object.keys(container.resources?.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources?.limits ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(container.env?.find((e) => e.name === 'PORT')?.value).toBe(String(port));
  });

  it.each(['keyflow-api', 'keyflow-worker', 'keyflow-gateway'])(
    'should give %s a Service, a PodDisruptionBudget and an autoscaler that select its pods',
    (name) => {
      const deployment = find('Deployment', name);
      const labels = (deployment.spec as { template: { metadata: { labels: Record<string, string> } } }).template
        .metadata.labels;
      const selected = (selector: Record<string, string>): boolean =>
        Object.entries(selector).every(([k, v]) => labels[k] === v);
      expect(selected((find('Service', name).spec as { selector: Record<string, string> }).selector)).toBe(true);
      const pdb = find('PodDisruptionBudget', name).spec as { selector: { matchLabels: Record<string, string> } };
      expect(selected(pdb.selector.matchLabels)).toBe(true);
      const hpa = find('HorizontalPodAutoscaler', name).spec as { scaleTargetRef: unknown; minReplicas: number };
      expect(hpa.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa.minReplicas).toBe((deployment.spec as { replicas: number }).replicas);
    },
  );

  it('should give the apps every setting their env schemas require, from objects that exist or the operators create', () => {
    const appConfig = find('ConfigMap', 'keyflow-app-config').data ?? {};
    const secrets = new Set([
      ...manifests()
        .filter((m) => m.kind === 'Secret')
        .map((m) => m.metadata.name),
      // Created by the operators for the names in operators/*.yaml (the Topology Operator: <User>-user-credentials).
      `${find('User', 'keyflow-app').metadata.name}-user-credentials`,
      // Made by the operator before the install (README.md, "Secrets"): no password is in this directory.
      ...OPERATOR_SECRETS,
    ]);
    for (const name of ['keyflow-api', 'keyflow-worker']) {
      const container = containerOf(find('Deployment', name));
      expect(container.envFrom).toEqual([{ configMapRef: { name: 'keyflow-app-config' } }]);
      const names = new Set([...Object.keys(appConfig), ...(container.env ?? []).map((e) => e.name)]);
      for (const key of ['KEYFLOW_INSTANCE', 'HOST', 'PORT', 'AMQP_URL', 'REDIS_NODES', 'DATABASE_URL', 'KV_SHARDS']) {
        expect(names.has(key), `${name} ${key}`).toBe(true);
      }
      if (name === 'keyflow-api') expect(names.has('DATABASE_READ_URL')).toBe(true);
      for (const e of container.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) expect(secrets.has(ref.name), `${name} ${e.name} → ${ref.name}`).toBe(true);
        // $(VAR) only expands variables defined before it, or from envFrom.
        for (const [, variable] of (e.value ?? '').matchAll(/\$\(([A-Z_]+)\)/g)) {
          const earlier = (container.env ?? []).slice(0, (container.env ?? []).indexOf(e)).map((x) => x.name);
          expect([...earlier, ...Object.keys(appConfig)], `${name} ${e.name} uses $(${variable})`).toContain(variable);
        }
      }
    }
    for (const name of ['keyflow-api', 'keyflow-worker']) {
      const env = containerOf(find('Deployment', name)).env ?? [];
      expect(env.find((e) => e.name === 'AMQP_URL')?.value).toBe(
        'amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@$(RABBITMQ_HOST):5672/keyflow',
      );
    }
    expect(appConfig).toMatchObject({
      REDIS_NODES: 'keyflow-redis-redis-cluster:6379',
      RABBITMQ_HOST: 'keyflow-rabbitmq',
    });
    expect(appConfig.DATABASE_HOST).toBe(`${find('CrdbCluster', 'keyflow-cockroachdb').metadata.name}-public`);
  });

  it('should configure the Bitnami redis-cluster chart for 3 masters with a replica each, behind a password', () => {
    const values = parse(readFileSync(join(K8S_DIR, 'operators/redis-cluster-values.yaml'), 'utf8')) as {
      cluster: { nodes: number; replicas: number };
      usePassword: boolean;
      existingSecret?: string;
      existingSecretPasswordKey?: string;
    };
    expect(values.cluster).toEqual({ nodes: 6, replicas: 1 });
    expect(values).toMatchObject({
      usePassword: true,
      existingSecret: 'keyflow-redis',
      existingSecretPasswordKey: 'password',
    });
    for (const name of ['keyflow-api', 'keyflow-worker']) {
      const env = containerOf(find('Deployment', name)).env ?? [];
      expect(env.find((e) => e.name === 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
        name: 'keyflow-redis',
        key: 'password',
      });
    }
  });

  it('should hold no password: no Secret object, every credential from a secretKeyRef', () => {
    expect(manifests().filter((m) => m.kind === 'Secret')).toEqual([]);
    const text = readdirSync(K8S_DIR)
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => readFileSync(join(K8S_DIR, f), 'utf8'))
      .join('\n');
    expect(text).not.toMatch(/change-me|password: [^\s{]/i);
    const readme = readFileSync(join(K8S_DIR, 'README.md'), 'utf8');
    for (const name of OPERATOR_SECRETS) expect(readme).toContain(`kubectl -n keyflow create secret generic ${name}`);
  });

  it('should run the migrations as a Job with the worker image', () => {
    const job = find('Job', 'keyflow-migrate');
    const container = (job.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0];
    expect(container).toMatchObject({
      image: 'keyflow-worker',
      command: ['node', 'apps/worker/src/migrate.js'],
    });
  });
});
