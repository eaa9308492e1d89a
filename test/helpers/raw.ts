// Direct access to the addon for tests that must look under the facade (attribute values,
// mechanisms the facade would not choose). It shares the process-wide module registry.
import { CKF_SESSION, CKU } from '../../lib/pkcs11/constants';
import { defaultDeepBind, nativeBinding } from '../../lib/pkcs11/native';
import type { NativeAttributeReading, NativeModule } from '../../binding';
import { SOFTHSM_MODULE, USER_PIN } from './softhsm';

export interface RawSession {
  native: NativeModule;
  session: bigint;
  close(): Promise<void>;
}

/**
 * A logged-in R/W session on `slot` through its own NativeModule reference (on SoftHSM unless
 * `options.module` says otherwise; a module the process has loaded already is not initialised again).
 */
export async function rawSession(
  slot: bigint,
  options: { module?: string; pin?: string; initArgs?: string } = {},
): Promise<RawSession> {
  const { module = SOFTHSM_MODULE, pin = USER_PIN, initArgs } = options;
  const native = await nativeBinding().load(module, {
    deepBind: defaultDeepBind(),
    ...(initArgs === undefined ? {} : { initArgs }),
  });
  const session = await native.openSession(slot, CKF_SESSION.RW_SESSION);
  await native.login(session, CKU.USER, Buffer.from(pin)).catch((e: { ckr?: string }) => {
    if (e.ckr !== 'CKR_USER_ALREADY_LOGGED_IN') throw e;
  });
  return {
    native,
    session,
    async close() {
      await native.closeSession(session);
      await native.close();
    },
  };
}

/** Attribute values by type, `undefined` for absent ones. */
export function valuesOf(readings: NativeAttributeReading[]): Map<number, unknown> {
  return new Map(readings.map((r) => [r.type, 'value' in r ? r.value : undefined]));
}
