import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Topology } from '@keyflow/topology';
import { SELF_SIGNED_TLS } from '../render/render.constant';

export interface SelfSignedCert {
  certFile: string;
  keyFile: string;
  /** false when both files already existed and were kept. */
  created: boolean;
}

/** The name the certificate is for: the round-robin name when the topology has DNS, else localhost. */
export function selfSignedSubject(t: Topology): { commonName: string; altNames: string[] } {
  const commonName = t.dns ? `${t.dns.name}.${t.dns.zone}` : 'localhost';
  const addresses = [...new Set(t.gateway.instances.map((g) => g.host).filter((h) => isIP(h) !== 0))];
  const names = [...new Set([commonName, 'localhost', ...t.gateway.instances.map((g) => g.host)])].filter(
    (h) => isIP(h) === 0,
  );
  return { commonName, altNames: [...names.map((n) => `DNS:${n}`), ...addresses.map((a) => `IP:${a}`)] };
}

/**
 * Creates `gateway.crt` and `gateway.key` in `dir` with openssl (RSA 2048, 365 days) unless both exist: a
 * re-render keeps the certificate clients may already trust. Written beside the targets and renamed, like the
 * configs; the key is mode 0600.
 */
export function ensureSelfSignedCert(t: Topology, dir: string): SelfSignedCert {
  const certFile = join(dir, SELF_SIGNED_TLS.cert);
  const keyFile = join(dir, SELF_SIGNED_TLS.key);
  if (existsSync(certFile) && existsSync(keyFile)) return { certFile, keyFile, created: false };
  mkdirSync(dir, { recursive: true });
  const { commonName, altNames } = selfSignedSubject(t);
  const tmpCert = `${certFile}.${process.pid}.tmp`;
  const tmpKey = `${keyFile}.${process.pid}.tmp`;
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '365',
        '-subj',
        `/CN=${commonName}`,
        '-addext',
        `subjectAltName=${altNames.join(',')}`,
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 },
    );
  } catch (err) {
    rmSync(tmpCert, { force: true });
    rmSync(tmpKey, { force: true });
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl could not create a self-signed certificate: ${stderr || (err as Error).message}`, {
      cause: err,
    });
  }
  chmodSync(tmpKey, 0o600);
  chmodSync(tmpCert, 0o644);
  renameSync(tmpKey, keyFile);
  renameSync(tmpCert, certFile);
  return { certFile, keyFile, created: true };
}
