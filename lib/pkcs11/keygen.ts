// C_GenerateKeyPair on one session, with what surrounds it: the id must be free, and a token that
// refuses CKA_ALLOWED_MECHANISMS gets the pair without it (the KeyPair then says so).
import { CKA, CKO } from './constants';
import { KeyExistsError, Pkcs11Error } from './errors';
import type { KeyPair } from './key-pair';
import { KeyReader } from './key-reader';
import { keyPairTemplates, type CheckedKeyPairOptions, type KeySpec } from './key-spec';
import type { NativeModule } from '../../binding';

/** How tokens refuse an attribute in a template; PKCS#11 creates nothing on a failed call. */
const REFUSED_ATTRIBUTE = new Set([
  'CKR_ATTRIBUTE_TYPE_INVALID',
  'CKR_ATTRIBUTE_VALUE_INVALID',
  'CKR_TEMPLATE_INCONSISTENT',
]);
/**
 * NSS softokn answers CKA_ALLOWED_MECHANISMS on token keys with CKR_GENERAL_ERROR (docs/vendors.md):
 * taken as a refusal only when the token shows nothing new with the key's CKA_ID afterwards.
 */
const REFUSED_IF_NOTHING_MADE = 'CKR_GENERAL_ERROR';

/**
 * Generates the pair on `session` and reads it back. Refuses an id that a private key already has
 * (ERR_KEY_EXISTS). The caller runs one generation at a time per token and never retries it.
 */
export async function generateKeyPairOn(
  native: NativeModule,
  session: bigint,
  spec: KeySpec,
  o: CheckedKeyPairOptions,
): Promise<KeyPair> {
  const reader = new KeyReader(native, session);
  if (
    (
      await reader.find(
        [
          [CKA.CLASS, CKO.PRIVATE_KEY],
          [CKA.ID, o.id],
        ],
        1,
      )
    ).length > 0
  ) {
    throw new KeyExistsError(o.id.toString('hex'));
  }
  const withId = o.allowedMechanisms ? (await reader.find([[CKA.ID, o.id]])).length : 0;
  const generate = (pin: boolean) => {
    const { mechanism, publicTemplate, privateTemplate } = keyPairTemplates(spec, o, pin);
    return native.generateKeyPair(session, mechanism, publicTemplate, privateTemplate);
  };
  let handles: { publicKey: bigint; privateKey: bigint };
  try {
    handles = await generate(true);
  } catch (e) {
    if (!o.allowedMechanisms || !(e instanceof Pkcs11Error)) throw e;
    const refused =
      REFUSED_ATTRIBUTE.has(e.ckr) ||
      (e.ckr === REFUSED_IF_NOTHING_MADE && (await reader.find([[CKA.ID, o.id]])).length === withId);
    if (!refused) throw e;
    handles = await generate(false);
  }
  return (await reader.readKeyPair(handles.privateKey, handles.publicKey, o.allowedMechanisms))!;
}
