import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Topology } from '@keyflow/topology';
import { EDGE_PEM_FILE, LOCAL_CA_TLS, SELF_SIGNED_TLS } from '../render/render.constant';

export interface LocalCaFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** What was made this time: nothing when every file existed. */
  created: Array<'ca' | 'certificate'>;
}

/** Beside the gateway certificate: the subjectAltNames it was signed for, one line. */
const GATEWAY_SAN_FILE = 'gateway.san';

/**
 * Every name and address the gateway certificate is for: the round-robin name, the load balancer's name and its
 * virtual IP (the edge pair's, the HAProxy pair's) when the topology has them, localhost, and every gateway host.
 */
export function localCaSubject(t: Topology): { commonName: string; altNames: string[] } {
  const commonName = t.dns ? `${t.dns.name}.${t.dns.zone}` : 'localhost';
  const lbName = t.dns?.loadBalancerName ? `${t.dns.loadBalancerName}.${t.dns.zone}` : undefined;
  const hosts = [
    commonName,
    ...(lbName ? [lbName] : []),
    'localhost',
    ...t.gateway.instances.map((g) => g.host),
    ...(t.haproxy.redundancy ? [t.haproxy.redundancy.virtualIp] : []),
    ...(t.edge ? [t.edge.redundancy.virtualIp] : []),
  ];
  const names = [...new Set(hosts.filter((h) => isIP(h) === 0))];
  const addresses = [...new Set(['127.0.0.1', ...hosts.filter((h) => isIP(h) !== 0)])];
  return { commonName, altNames: [...names.map((n) => `DNS:${n}`), ...addresses.map((a) => `IP:${a}`)] };
}

function openssl(args: string[], what: string): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl could not create ${what}: ${stderr || (err as Error).message}`, { cause: err });
  }
}

/** Writes `files` (temporary name → final name) into place by rename, keys 0600, the rest 0644. */
function install(files: Array<[string, string]>): void {
  for (const [tmp, target] of files) {
    chmodSync(tmp, target.endsWith('.key') ? 0o600 : 0o644);
    renameSync(tmp, target);
  }
}

/**
 * A certificate authority of the stack's own (`ca.crt`, `ca.key`: EC P-256, 10 years) and a gateway certificate it
 * signs (`gateway.crt`, `gateway.key`: 825 days, every name of `localCaSubject`), in `dir`. Files that exist are
 * kept, so a restart keeps the CA clients were told to trust; a missing certificate is signed again by the same CA.
 * Clients trust `ca.crt` (`curl --cacert`, `NODE_EXTRA_CA_CERTS`), never the gateway certificate itself.
 */
export function ensureLocalCa(t: Topology, dir: string): LocalCaFiles {
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, LOCAL_CA_TLS.ca);
  const caKey = join(dir, LOCAL_CA_TLS.caKey);
  const certFile = join(dir, SELF_SIGNED_TLS.cert);
  const keyFile = join(dir, SELF_SIGNED_TLS.key);
  const created: LocalCaFiles['created'] = [];
  const tmp = (file: string): string => `${file}.${process.pid}.tmp`;
  const cleanUp = (files: string[]): void => files.forEach((f) => rmSync(tmp(f), { force: true }));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

  if (!existsSync(caFile) || !existsSync(caKey)) {
    try {
      openssl(
        [
          ...['req', '-x509', ...ec, '-days', '3650', '-subj', `/CN=keyflow ${t.name} local CA`],
          ...['-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0'],
          ...['-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
          ...['-keyout', tmp(caKey), '-out', tmp(caFile)],
        ],
        'the local certificate authority',
      );
    } catch (err) {
      cleanUp([caKey, caFile]);
      throw err;
    }
    install([
      [tmp(caKey), caKey],
      [tmp(caFile), caFile],
    ]);
    // A new CA makes any old gateway certificate worthless.
    rmSync(certFile, { force: true });
    created.push('ca');
  }

  // The names the certificate was signed for: a topology that gains one (a load balancer's) gets a new certificate.
  const { commonName, altNames } = localCaSubject(t);
  const sanFile = join(dir, GATEWAY_SAN_FILE);
  const signedFor = existsSync(sanFile) ? readFileSync(sanFile, 'utf8').trim() : undefined;
  if (signedFor !== altNames.join(',')) rmSync(certFile, { force: true });

  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const csr = join(dir, `gateway.${process.pid}.csr`);
    const ext = join(dir, `gateway.${process.pid}.ext`);
    writeFileSync(
      ext,
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${altNames.join(',')}`,
        '',
      ].join('\n'),
    );
    try {
      openssl(['req', '-new', ...ec, '-subj', `/CN=${commonName}`, '-keyout', tmp(keyFile), '-out', csr], 'a key');
      openssl(
        [
          ...['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial'],
          ...['-days', '825', '-sha256', '-extfile', ext, '-out', tmp(certFile)],
        ],
        'the gateway certificate',
      );
    } catch (err) {
      cleanUp([keyFile, certFile]);
      throw err;
    } finally {
      rmSync(csr, { force: true });
      rmSync(ext, { force: true });
    }
    install([
      [tmp(keyFile), keyFile],
      [tmp(certFile), certFile],
    ]);
    writeFileSync(sanFile, `${altNames.join(',')}\n`);
    created.push('certificate');
  }
  return { caFile, certFile, keyFile, created };
}

/**
 * `edge.pem`: the gateway certificate followed by its key, the one file HAProxy's `crt` takes (0600). Written anew
 * on every render, so it always matches the certificate beside it.
 */
export function writeEdgePem(dir: string): string {
  const pem = join(dir, EDGE_PEM_FILE);
  const cert = readFileSync(join(dir, SELF_SIGNED_TLS.cert), 'utf8');
  const key = readFileSync(join(dir, SELF_SIGNED_TLS.key), 'utf8');
  writeFileSync(`${pem}.tmp`, `${cert.trimEnd()}\n${key.trimEnd()}\n`, { mode: 0o600 });
  chmodSync(`${pem}.tmp`, 0o600);
  renameSync(`${pem}.tmp`, pem);
  return pem;
}
