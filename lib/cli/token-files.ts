// A token initialised with PINs kept in files (0600), never on a command line: what `hsm-jwks token
// init`, `serve --dev` and scripts/dev-token.sh use. The SO PIN is kept next to the user PIN so the
// token can be reset; neither is ever printed or logged.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { readPinFile } from '../config';
import { CKF_TOKEN } from '../pkcs11/constants';
import { TokenNotFoundError } from '../pkcs11/errors';
import { Pkcs11Module, type SlotInfo } from '../pkcs11/module';

export const SOFTHSM_LIBRARY = '/usr/lib/softhsm/libsofthsm2.so';

/** The PIN in `file`; when the file does not exist, a new random PIN written there first (0600, never overwritten). */
export function pinFile(file: string, create: boolean): { pin: string; created: boolean } {
  if (fs.existsSync(file) || !create) return { pin: readPinFile(file), created: false };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const pin = randomBytes(16).toString('hex');
  fs.writeFileSync(file, `${pin}\n`, { mode: 0o600, flag: 'wx' });
  return { pin, created: true };
}

export interface EnsureTokenOptions {
  library: string;
  label: string;
  pinFile: string;
  soPinFile: string;
  /** Initialise the token in this slot (re-initialise it when it is initialised: the SO PIN must be its). */
  slot?: bigint;
  /** Re-initialise the token that has the label, with the SO PIN of soPinFile (which must exist): every object goes. */
  reset?: boolean;
  initArgs?: string;
}

export interface EnsuredToken {
  label: string;
  slot: string;
  serialNumber: string;
  /** True when a token with the label was there already and was left as it is. */
  existing: boolean;
  pinFile: string;
  soPinFile: string;
  /** Which PIN files were made now. */
  created: string[];
}

/** No initialised token has `label`: the error says which tokens and slots there are, as every token-not-found does. */
function noTokenToReset(label: string, slots: SlotInfo[]): TokenNotFoundError {
  const seen = slots.flatMap((s) =>
    s.token && (s.token.flags & CKF_TOKEN.TOKEN_INITIALIZED) !== 0
      ? [{ label: s.token.label, serialNumber: s.token.serialNumber, slot: s.slot.toString() }]
      : [],
  );
  return new TokenNotFoundError(
    `label ${JSON.stringify(label)} (to reset)`,
    seen.map((t) => t.label),
    seen,
    slots.map((s) => s.slot.toString()),
  );
}

/** The token labelled `label`: the one there is, or a new one in the first free slot (or `slot`, reset). */
export async function ensureToken(o: EnsureTokenOptions): Promise<EnsuredToken> {
  const mod = await Pkcs11Module.load(o.library, o.initArgs === undefined ? {} : { initArgs: o.initArgs });
  try {
    const files = { pinFile: path.resolve(o.pinFile), soPinFile: path.resolve(o.soPinFile) };
    let slot = o.slot;
    if (slot === undefined) {
      const slots = await mod.slots();
      const there = slots.find(
        (s) => s.token?.label === o.label && (s.token.flags & CKF_TOKEN.TOKEN_INITIALIZED) !== 0,
      );
      if (o.reset) {
        if (!there) throw noTokenToReset(o.label, slots);
        slot = there.slot;
      } else if (there?.token)
        return {
          label: o.label,
          slot: there.slot.toString(),
          serialNumber: there.token.serialNumber,
          existing: true,
          ...files,
          created: [],
        };
    }
    const so = pinFile(files.soPinFile, !o.reset);
    const user = pinFile(files.pinFile, true);
    const made = await mod.initToken({
      label: o.label,
      soPin: so.pin,
      userPin: user.pin,
      ...(slot === undefined ? {} : { slot }),
    });
    return {
      label: o.label,
      slot: made.slot.toString(),
      serialNumber: made.serialNumber,
      existing: false,
      ...files,
      created: [...(so.created ? [files.soPinFile] : []), ...(user.created ? [files.pinFile] : [])],
    };
  } finally {
    await mod.close().catch(() => undefined);
  }
}
