// Where keys' certificates are kept (what is published from them: certificates.ts).
//  - HSM keys: on the token, every X.509 certificate object whose CKA_ID is the key pair's (the
//    key's certificate and the rest of its chain alike; CKA_LABEL the key's when written here, any
//    or none when written by other tools). The token is the source of truth: every process that
//    sees the token publishes the same chain, whatever its store.
//  - Software keys: the PEM chain sealed in the store, next to the key's row.
// Read with the set (a source's read, so cached with the set's view: never on the signing path),
// written by `keys cert import`, removed by `keys cert remove` and with the key.
import { pemCertificates, toPem, type X509Certificate } from '../jose/x509';
import { silentLogger, type Logger } from '../logger';
import type { Token } from '../pkcs11/token';
import type { KeyStore } from '../store/key-store';
import { withCertificates } from './certificates';
import type { KeyEntry, KeyProblem } from './key-entry';
import type { SetReading } from './key-source';
import { hex, isHsmEntry } from './hsm-entry';
import type { SoftwareEntry } from './software-source';
import { cliCommand } from './names';

/** The reading with the certificates the token holds under each key's CKA_ID (one search for the set). */
export async function withTokenCertificates(token: Token, reading: SetReading): Promise<SetReading> {
  const entries = reading.entries.filter(isHsmEntry);
  if (entries.length === 0) return reading;
  const byId = new Map<string, Buffer[]>();
  for (const c of await token.findCertificates({ ids: entries.map((e) => e.pair.id) }))
    byId.set(hex(c.id), [...(byId.get(hex(c.id)) ?? []), c.value]);
  if (byId.size === 0) return reading;
  const problems: KeyProblem[] = [];
  const out = reading.entries.map((e) => {
    const ders = isHsmEntry(e) ? byId.get(hex(e.pair.id)) : undefined;
    if (!ders || !isHsmEntry(e)) return e; // a software key, or no certificate under its CKA_ID
    const found = withCertificates(e, { ders, ordered: false, where: `on the token (CKA_ID ${hex(e.pair.id)})` });
    problems.push(...found.problems);
    return found.entry;
  });
  return { entries: out, problems: [...reading.problems, ...problems] };
}

/** The reading with the chains the store holds for its software keys (read alongside them). */
export function withStoredCertificates(
  reading: SetReading,
  stored: { chains: Map<string, string>; failures: ReadonlyArray<{ kid: string; code: string; message: string }> },
): SetReading {
  const problems: KeyProblem[] = [];
  for (const f of stored.failures) {
    const e = reading.entries.find((x) => x.kid === f.kid);
    if (!e) continue; // a chain whose key does not open: the key's own problem says so
    problems.push({
      kind: 'certificate-invalid',
      set: e.set,
      kid: e.kid,
      where: 'software',
      detail: `its certificate chain in the store does not open (${f.code}: ${f.message}); the key is published without x5c`,
      repair: `check SECRETS_SYSTEM, or import the chain again: ${cliCommand('keys cert import', [e.set, e.kid], '<chain.pem>')}`,
    });
  }
  const entries = reading.entries.map((e) => {
    const pem = stored.chains.get(e.kid);
    if (pem === undefined) return e;
    const found = withCertificates(e, { ders: pemCertificates(pem), ordered: true, where: 'in the store' });
    problems.push(...found.problems);
    return found.entry;
  });
  return { entries, problems: [...reading.problems, ...problems] };
}

/** Where one key's certificates are written and removed. */
export interface CertificatePlace {
  /** Makes `chain` the key's certificates (replacing any it had). */
  write(chain: readonly X509Certificate[]): Promise<void>;
  /** Removes the key's certificates; how many there were (the store counts a chain as one). */
  remove(): Promise<number>;
}

export function certificatePlace(
  entry: KeyEntry,
  places: { token: Token | undefined; store: KeyStore },
): CertificatePlace {
  if (isHsmEntry(entry)) {
    const token = places.token;
    if (!token) throw new Error('an HSM key without an HSM source');
    return {
      write: async (chain) => {
        await token.replaceCertificates({
          id: entry.pair.id,
          label: entry.pair.label,
          values: chain.map((c) => c.raw),
        });
      },
      remove: async () =>
        (await token.replaceCertificates({ id: entry.pair.id, label: entry.pair.label, values: [] })).removed,
    };
  }
  const e = entry as SoftwareEntry;
  return {
    write: async (chain) => {
      await places.store.setCertificateChain(e.set, e.kid, toPem(chain));
    },
    remove: async () => ((await places.store.setCertificateChain(e.set, e.kid, undefined)) ? 1 : 0),
  };
}

/**
 * Removes the certificates of a key pair the token no longer holds (after its deletion): what is
 * left is reported as a warning, never thrown (the key is gone either way).
 */
export async function dropTokenCertificates(
  token: Token,
  pair: { id: Buffer; label: string },
  where: { set: string; kid: string },
  log: Logger = silentLogger,
): Promise<void> {
  await token.replaceCertificates({ id: pair.id, label: pair.label, values: [] }).catch((e: unknown) => {
    log.warn('the certificates of a deleted key could not be removed from the token', {
      ...where,
      code: (e as { code?: string }).code,
    });
  });
}
