// Generating a key on the token, all or nothing: a pending metadata record, the pair (its
// mechanism pinned by CKA_ALLOWED_MECHANISMS where the token takes it), then the complete record;
// any failure destroys what was made, and a pending record left by a crash is cleaned up by the
// next generation with that kid. A thumbprint kid is given by renaming the new pair.
import { keyPairAlgInfo } from '../jose/algorithms';
import { thumbprintOf } from '../jose/jwk';
import { idFromKid } from '../jose/kid';
import { CKM } from '../pkcs11/constants';
import { MechanismUnsupportedError } from '../pkcs11/errors';
import { signMechanisms } from '../pkcs11/mechanisms';
import type { KeyPair } from '../pkcs11/key-pair';
import type { KeyUse } from '../pkcs11/key-spec';
import { KeyManagerError } from './errors';
import { checkGeneration, symmetricOnHsm } from './generation';
import { hex, hsmEntry, type HsmContext, type HsmEntry } from './hsm-entry';
import type { KeyMetadata } from './hsm-metadata';
import type { MetaRecord } from './hsm-records';
import type { NewKey } from './key-source';

/** The one mechanism this key will sign (or decrypt) with on this token: CKA_ALLOWED_MECHANISMS. */
export function allowedMechanismsFor(alg: string, use: KeyUse, available: ReadonlySet<number>): number[] {
  if (use === 'enc') return [CKM.RSA_PKCS_OAEP];
  // The first way the token has (a hashed RSA mechanism), else the raw one, always available.
  const ways = signMechanisms(keyPairAlgInfo(alg).mechanism);
  return [ways.find((m) => available.has(m)) ?? ways[ways.length - 1]!];
}

export async function generateOnToken(
  ctx: HsmContext,
  key: NewKey,
  onProgress?: (message: string) => void,
): Promise<HsmEntry> {
  const generation = checkGeneration(key.alg, key.use);
  if (generation.kind === 'secret') throw symmetricOnHsm(key.alg); // the key ring refuses it first; never on the token
  const { spec, use } = generation;
  const available = new Set((await ctx.token.mechanisms()).map((m) => m.type));
  if (key.alg === 'EdDSA' && !available.has(CKM.EDDSA))
    throw new MechanismUnsupportedError('EdDSA signatures (CKM_EDDSA)');
  const id = idFromKid(key.kid);
  const label = ctx.label(key.set);
  await clearInterrupted(ctx, key.set, label, id);
  // A public object left with this id (a crash, a half-deleted pair) would make the new pair ambiguous.
  if ((await ctx.token.findOrphanPublicKeys()).some((o) => o.id.equals(id))) {
    throw new KeyManagerError(
      'ERR_KEY_EXISTS',
      `a public key object with CKA_ID ${hex(id)} (kid ${JSON.stringify(key.kid)}) is on the token without its private key; remove it first: pkcs11-tool --login --delete-object --type pubkey --id ${hex(id)}`,
    );
  }
  const meta: KeyMetadata = {
    id: hex(id),
    alg: key.alg as KeyMetadata['alg'],
    use,
    createdAt: key.createdAt,
    lifecycle: key.lifecycle,
    rev: 0,
    pending: true,
  };
  const pending = [await ctx.records.write(key.set, label, key.kid, meta)];
  let pair: KeyPair | undefined;
  try {
    if (spec.type === 'rsa')
      onProgress?.(`generating an RSA-${spec.bits} key pair on the token (this takes seconds)...`);
    pair = await ctx.token.generateKeyPair(spec, {
      label,
      id,
      use,
      allowedMechanisms: allowedMechanismsFor(key.alg, use, available),
    });
    let kid = key.kid;
    let entry = hsmEntry(key.set, kid, pair, { ...meta, pending: false }); // the alg must fit what the token made
    const thumbprint = thumbprintOf(entry.publicJwk);
    if (key.thumbprintKid) {
      // Renamed under a pending record of its new kid: whenever it stops, an interrupted
      // generation is left (never published, cleared by doctor or a retry), not a key without metadata.
      kid = thumbprint;
      pending.push(await ctx.records.write(key.set, label, kid, { ...meta, id: hex(idFromKid(kid)) }));
      pair = await ctx.token.setKeyPairId(pair, idFromKid(kid));
      entry = hsmEntry(key.set, kid, pair, { ...meta, id: hex(idFromKid(kid)), pending: false });
    }
    const complete: KeyMetadata = { ...meta, id: hex(idFromKid(kid)), rev: 1, pending: false, thumbprint };
    await ctx.records.replace(key.set, label, kid, pending, complete);
    return entry;
  } catch (e) {
    await rollBack(ctx, key, pair, pending, e);
    throw e;
  }
}

/** Undoes a failed generation; when that fails too, says what is left (doctor reports it, and a retry clears it). */
async function rollBack(
  ctx: HsmContext,
  key: NewKey,
  pair: KeyPair | undefined,
  pending: MetaRecord[],
  cause: unknown,
): Promise<void> {
  const left: string[] = [];
  if (pair) await ctx.token.destroyKeyPair(pair).catch(() => left.push('the key pair'));
  for (const r of pending) await ctx.records.remove(r).catch(() => left.push('a pending metadata record'));
  if (left.length > 0) {
    throw new KeyManagerError(
      'ERR_GENERATION_ROLLBACK_FAILED',
      `generating ${JSON.stringify(key.kid)} in ${JSON.stringify(key.set)} failed (${(cause as { code?: string }).code ?? 'error'}), and ${left.join(' and ')} could not be removed; it is not published, and generating the same kid again removes it`,
      { cause },
    );
  }
}

/** What an interrupted generation of this id left (a pending record, and maybe its pair) is removed. */
async function clearInterrupted(ctx: HsmContext, set: string, label: string, id: Buffer): Promise<void> {
  const list = (await ctx.records.read(set, label)).byId.get(hex(id)) ?? [];
  if (list.length === 0 || list.some((r) => !r.meta.pending)) return; // nothing, or a complete key: the token refuses the id
  for (const pair of await ctx.token.findKeyPairs({ label, id })) await ctx.token.destroyKeyPair(pair);
  for (const r of list) await ctx.records.remove(r);
  ctx.log.info('removed what an interrupted generation left on the token', { label, id: hex(id) });
}
