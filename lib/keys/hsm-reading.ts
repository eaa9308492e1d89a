// Reading a set on the token: its key pairs, their metadata records and the public objects without
// a private key, found concurrently and joined into entries and problems (what is not published,
// and how to repair it). Records moved from the store first (hsm-migration.ts); certificates last.
import { setTimeout as sleep } from 'node:timers/promises';

import { kidFromId } from '../jose/kid';
import type { KeyPair } from '../pkcs11/key-pair';
import { hex, hsmEntry, pairThumbprint, type HsmContext, type HsmEntry } from './hsm-entry';
import { currentRecord, METADATA_APPLICATION } from './hsm-metadata';
import { migrateLegacy } from './hsm-migration';
import { withTokenCertificates } from './key-certificates';
import type { KeyProblem } from './key-entry';
import type { SetReading } from './key-source';
import { cliCommand } from './names';

/** The pause before a reading that found metadata without its key is taken again. */
const TORN_READ_PAUSE_MS = 100;

const REPAIR_DAMAGED = `pkcs11-tool --login --list-objects --type data --application-label ${METADATA_APPLICATION}, then --delete-object the one that is not a JSON record, and generate or delete the key again`;

/**
 * The set's keys on the token. Key objects and metadata records are found concurrently, so a key
 * another process makes between the two finds shows as metadata without its key: such a reading
 * is taken again once before it counts (a key really gone stays gone). Seen with two instances
 * starting on one SoftHSM token.
 */
export async function readHsmSet(ctx: HsmContext, set: string): Promise<SetReading> {
  let reading = await readOnce(ctx, set);
  if (reading.problems.some((p) => p.kind === 'metadata-without-key')) {
    await sleep(TORN_READ_PAUSE_MS);
    reading = await readOnce(ctx, set);
  }
  return withTokenCertificates(ctx.token, reading); // x5c: read with the set, cached with its view
}

/** One reading of the set: entries for the pairs that can be published, problems for the rest. */
async function readOnce(ctx: HsmContext, set: string): Promise<SetReading> {
  const label = ctx.label(set);
  const [pairs, { byId: records, unreadable, damaged, legacy }, orphans] = await Promise.all([
    ctx.token.findKeyPairs({ label }),
    ctx.records.read(set, label),
    ctx.token.findOrphanPublicKeys({ label }),
  ]);
  await migrateLegacy(ctx, set, label, pairs, records, legacy);
  const entries: HsmEntry[] = [];
  const problems: KeyProblem[] = [];
  const problem = (kind: KeyProblem['kind'], kid: string, detail: string, repair?: string) =>
    problems.push({ kind, set, kid, where: 'hsm', detail, ...(repair ? { repair } : {}) });
  const byId = new Map<string, KeyPair[]>();
  for (const p of pairs) byId.set(hex(p.id), [...(byId.get(hex(p.id)) ?? []), p]);
  for (const [idHex, same] of byId) {
    const kid = kidFromId(same[0]!.id);
    const record = currentRecord(records.get(idHex) ?? []);
    if (same.length > 1) {
      problem(
        'duplicate-id',
        kid,
        `${same.length} private keys have CKA_ID ${idHex}: none is published`,
        `pkcs11-tool --login --list-objects --type privkey --id ${idHex}, then --delete-object the one that does not belong`,
      );
      continue;
    }
    const pair = same[0]!;
    const sealFailure = record ? undefined : unreadable.get(idHex);
    if (sealFailure) {
      problem(
        'metadata-invalid',
        kid,
        `its metadata record in the store does not open: ${sealFailure}`,
        'check SECRETS_SYSTEM; a record edited outside the seal stays refused',
      );
      continue;
    }
    if (!record && damaged > 0) {
      problem(
        'metadata-invalid',
        kid,
        `${damaged} metadata object(s) of this set on the token cannot be read (edited, or of another version), and this key has no readable one: it may be theirs`,
        REPAIR_DAMAGED,
      );
      continue;
    }
    const meta = record?.meta;
    if (meta && !meta.pending && meta.thumbprint !== undefined && meta.thumbprint !== pairThumbprint(pair)) {
      // Not the key we made under this id: re-created by another tool, or its public object replaced. Never published as ours.
      problem(
        'metadata-invalid',
        kid,
        'the key on the token is not the one recorded for this kid (its public key differs): re-created by another tool, or its public object replaced',
        `${cliCommand('keys delete', [set, kid])}   (destroys what the token holds under this kid)`,
      );
      continue;
    }
    if (meta?.pending) {
      problem(
        'incomplete-generation',
        kid,
        'its generation did not finish; generating the same kid again replaces it',
        cliCommand('keys delete', [set, kid]),
      );
      continue;
    }
    const extra = pair.problems.includes('public-key-ambiguous') || pair.problems.includes('public-key-mismatch');
    const repairPublic = `pkcs11-tool --login --list-objects --type pubkey --id ${idHex}, then --delete-object --type pubkey the one that does not belong`;
    if (extra && !pair.publicKeyData) {
      problem(
        'public-key-ambiguous',
        kid,
        `several public objects have CKA_ID ${idHex}, or its public object belongs to another key: none is used`,
        repairPublic,
      );
      continue;
    }
    if (extra)
      problem(
        'extra-public-object',
        kid,
        `published with its own public part; another public object has CKA_ID ${idHex}`,
        repairPublic,
      );
    try {
      entries.push(hsmEntry(set, kid, pair, meta));
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'error';
      if (!pair.publicKeyData) problem('public-key-missing', kid, `${code}: ${(e as Error).message}`);
      else if (!meta) problem('unsupported-key', kid, `${code}: ${(e as Error).message}`);
      else problem('metadata-invalid', kid, `${code}: ${(e as Error).message}`);
    }
  }
  for (const [idHex, list] of records) {
    if (byId.has(idHex)) continue;
    const kid = kidFromId(Buffer.from(idHex, 'hex'));
    const pending = list.every((r) => r.meta.pending);
    problem(
      pending ? 'incomplete-generation' : 'metadata-without-key',
      kid,
      pending ? 'a generation stopped before the key pair existed' : 'metadata of a key that is no longer on the token',
      cliCommand('keys delete', [set, kid]),
    );
  }
  if (damaged > 0)
    problem(
      'metadata-invalid',
      '',
      `${damaged} metadata object(s) of this set on the token cannot be read (edited, or of another version)`,
      REPAIR_DAMAGED,
    );
  for (const o of orphans) {
    // The reads are not one snapshot: a public object seen before its private key existed is
    // not an orphan when the pair (or a generation's record) is there now.
    if (byId.has(hex(o.id)) || records.has(hex(o.id))) continue;
    problem(
      'orphan-public-key',
      kidFromId(o.id),
      `a public key object without its private key (CKA_ID ${hex(o.id)})`,
      `pkcs11-tool --login --delete-object --type pubkey --id ${hex(o.id)}`,
    );
  }
  return { entries, problems };
}
