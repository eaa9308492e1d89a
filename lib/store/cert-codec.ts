// Certificate chains of software keys (published as x5c): the PEM chain, the key's certificate
// first, sealed in a row of key_certificates of its own per (set, kid), as the plaintext of a v2
// envelope whose AAD names the row (aad.ts, label hsm-jwks/key-certificates/v2). Nothing in a chain
// is secret: the seal says it was written through the store, so a chain edited in SQL or moved to
// another key does not open. A row is deleted with its key (prune, in the same transaction).
import { certificatesAad } from './aad';
import { StoreError } from './errors';
import type { RowFailure } from './key-store';
import { failureOf } from './row-codec';
import { ENVELOPE_V2, type Sealer } from './sealing';

export interface ChainRow {
  set: string;
  kid: string;
  sealed: Buffer;
}

/** key_certificates as a driver returns it. */
export interface ChainDbRow {
  set_name: string;
  kid: string;
  sealed: Buffer;
}

export const CHAIN_SQL = {
  keyExists: 'SELECT kid FROM jwk_keys WHERE set_name = ? AND kid = ?',
  insert: 'INSERT INTO key_certificates (set_name, kid, sealed) VALUES (?, ?, ?)',
  delete: 'DELETE FROM key_certificates WHERE set_name = ? AND kid = ?',
  ofSet: 'SELECT set_name, kid, sealed FROM key_certificates WHERE set_name = ? ORDER BY kid',
  all: 'SELECT set_name, kid, sealed FROM key_certificates ORDER BY set_name, kid',
  reseal: 'UPDATE key_certificates SET sealed = ? WHERE set_name = ? AND kid = ?',
  /** The chains of a set whose key is gone (parameters: set, set). */
  prune: 'DELETE FROM key_certificates WHERE set_name = ? AND kid NOT IN (SELECT kid FROM jwk_keys WHERE set_name = ?)',
} as const;

export const toChainRow = (r: ChainDbRow): ChainRow => ({ set: r.set_name, kid: r.kid, sealed: r.sealed });

export function sealChain(sealer: Sealer, set: string, kid: string, pem: string): ChainRow {
  return { set, kid, sealed: sealer.seal(Buffer.from(pem, 'utf8'), ENVELOPE_V2, certificatesAad({ set, kid })) };
}

/** The PEM chain of a row; throws the row's StoreError when it does not open. */
export function openChain(sealer: Sealer, row: ChainRow): string {
  const ref = { set: row.set, kid: row.kid };
  const aadFor = (v: number) => {
    if (v !== ENVELOPE_V2)
      throw new StoreError('ERR_SEAL_FORMAT', `a certificate chain cannot have envelope version ${v}`, ref);
    return certificatesAad(ref);
  };
  return sealer.open(row.sealed, aadFor, ref).plaintext.toString('utf8');
}

export function openChains(
  sealer: Sealer,
  rows: Iterable<ChainRow>,
): { chains: Map<string, string>; failures: RowFailure[] } {
  const chains = new Map<string, string>();
  const failures: RowFailure[] = [];
  for (const row of rows) {
    try {
      chains.set(row.kid, openChain(sealer, row));
    } catch (e) {
      failures.push(failureOf(row, e));
    }
  }
  return { chains, failures };
}

/** For rotation: the row sealed again under the current secret, or undefined when it already is. */
export function resealedChain(sealer: Sealer, row: ChainRow): Buffer | undefined {
  if (sealer.sealedWithCurrent(row.sealed)) return undefined;
  return sealChain(sealer, row.set, row.kid, openChain(sealer, row)).sealed;
}
