// Token initialisation through the module itself: C_InitToken with the SO PIN, then C_Login as the
// SO and C_InitPIN for the user PIN, each off the JS thread. What softhsm2-util --init-token does,
// without putting a PIN on any command line. PIN buffers made here are zeroed when done.
import { CKF_SESSION, CKF_TOKEN, CKU } from './constants';
import { invalidArgType, invalidArgValue } from '../errors';
import { TokenNotFoundError } from './errors';
import type { NativeModule, NativeSlot } from '../../binding';

export interface InitTokenOptions {
  /** The token's label: 1 to 32 bytes of UTF-8. */
  label: string;
  /** The Security Officer PIN the token is initialised with (keep it: it can reset the token). */
  soPin: string | Uint8Array;
  /** The user PIN set with C_InitPIN. */
  userPin: string | Uint8Array;
  /** The slot to initialise; default: the first slot whose token is not initialised. */
  slot?: bigint;
}

export interface InitializedToken {
  /** Where the token is now (SoftHSM2 gives a freshly initialised token a new slot id). */
  slot: bigint;
  label: string;
  serialNumber: string;
}

type WithToken = NativeSlot & { token: NonNullable<NativeSlot['token']> };

function pinBuffer(name: string, pin: unknown): Buffer {
  if (typeof pin === 'string') {
    if (pin.length === 0) throw invalidArgValue(name, 'a non-empty PIN', '(empty)');
    return Buffer.from(pin, 'utf8');
  }
  if (pin instanceof Uint8Array) {
    if (pin.length === 0) throw invalidArgValue(name, 'a non-empty PIN', '(empty)');
    return Buffer.from(pin); // a copy of our own, zeroed when done
  }
  throw invalidArgType(name, 'a string or Uint8Array', typeof pin);
}

function withToken(slots: NativeSlot[]): WithToken[] {
  return slots.filter((s): s is WithToken => s.token !== null);
}

export async function initToken(native: NativeModule, options: InitTokenOptions): Promise<InitializedToken> {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'an object', options);
  const { label } = options;
  if (typeof label !== 'string') throw invalidArgType('options.label', 'a string', label);
  const bytes = Buffer.byteLength(label, 'utf8');
  if (bytes === 0 || bytes > 32 || label.includes('\0') || label !== label.trimEnd())
    throw invalidArgValue('options.label', '1 to 32 bytes of UTF-8 without trailing blanks', label);
  if (options.slot !== undefined && typeof options.slot !== 'bigint')
    throw invalidArgType('options.slot', 'a bigint', options.slot);
  const soPin = pinBuffer('options.soPin', options.soPin);
  const userPin = pinBuffer('options.userPin', options.userPin);
  try {
    const before = withToken(await native.getSlots(true));
    const target =
      options.slot !== undefined
        ? before.find((s) => s.slot === options.slot)
        : before.find((s) => (s.token.flags & CKF_TOKEN.TOKEN_INITIALIZED) === 0);
    if (!target) {
      throw new TokenNotFoundError(
        options.slot !== undefined ? `slot ${options.slot.toString()}` : 'an uninitialised token',
        before.map((s) => s.token.label),
        before.map((s) => ({ label: s.token.label, serialNumber: s.token.serialNumber, slot: s.slot.toString() })),
        before.map((s) => s.slot.toString()),
      );
    }
    await native.initToken(target.slot, soPin, label);
    // Find it again: the same slot, or (SoftHSM2) a new slot id for the token that now has the label and no user PIN.
    const after = withToken(await native.getSlots(true)).filter(
      (s) =>
        s.token.label === label &&
        (s.token.flags & CKF_TOKEN.TOKEN_INITIALIZED) !== 0 &&
        (s.token.flags & CKF_TOKEN.USER_PIN_INITIALIZED) === 0,
    );
    const found = after.find((s) => s.slot === target.slot) ?? (after.length === 1 ? after[0] : undefined);
    if (!found) {
      throw new TokenNotFoundError(
        `the token just initialised as ${JSON.stringify(label)}`,
        after.map((s) => s.token.label),
      );
    }
    const session = await native.openSession(found.slot, CKF_SESSION.RW_SESSION);
    try {
      await native.login(session, CKU.SO, soPin);
      await native.initPin(session, userPin);
      await native.logout(session);
    } finally {
      await native.closeSession(session).catch(() => undefined);
    }
    return { slot: found.slot, label, serialNumber: found.token.serialNumber };
  } finally {
    soPin.fill(0);
    userPin.fill(0);
  }
}
