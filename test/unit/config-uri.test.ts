// HSM_URI: a PKCS#11 URI as the HSM's configuration, combined with HSM_LIBRARY, HSM_TOKEN_LABEL /
// HSM_TOKEN_SERIAL / HSM_SLOT and HSM_PIN / HSM_PIN_FILE: what one gives is taken, what both give
// must agree (ERR_CONFIG naming both), and no PIN is ever in an error.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { loadConfig } from '../../lib/config';
import { registerSecret } from '../helpers/secret-leak-recorder';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const PIN = 'config-uri-pin-24680';
const OTHER_PIN = 'config-uri-pin-13579';
registerSecret('pin', 'a pin-value of test/unit/config-uri.test.ts', PIN);
registerSecret('pin', 'another pin-value of test/unit/config-uri.test.ts', OTHER_PIN);

let dir: string;
let pinFile: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-config-uri-'));
  pinFile = path.join(dir, 'pin');
  fs.writeFileSync(pinFile, `${PIN}\n`, { mode: 0o600 });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const hsm = (env: Record<string, string>) => loadConfig({ HSM_ENABLED: 'true', ...env }).hsm;

/** The ConfigError loadConfig throws: its variable and message (never a PIN). */
function refusal(env: Record<string, string>): { variable: string; message: string } {
  try {
    loadConfig({ HSM_ENABLED: 'true', ...env });
  } catch (e) {
    const err = e as { code?: string; variable: string; message: string };
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.message).not.toContain(PIN);
    expect(err.message).not.toContain(OTHER_PIN);
    return { variable: err.variable, message: err.message };
  }
  throw new Error('loadConfig accepted it');
}

test('HSM_URI alone: the module, the token and the PIN', () => {
  expect(hsm({ HSM_URI: `pkcs11:token=hydra?module-path=${MODULE}&pin-value=${PIN}` })).toEqual({
    library: MODULE,
    pin: PIN,
    selector: { uri: 'pkcs11:token=hydra' },
    keySetPrefix: '',
    initArgs: undefined,
    poolSize: 4,
  });
  // pin-source: read like HSM_PIN_FILE, and watched like it (pinFile)
  expect(
    hsm({ HSM_URI: `pkcs11:serial=abc;token=a%20b?module-path=${MODULE}&pin-source=file:${pinFile}` }),
  ).toMatchObject({ library: MODULE, pin: PIN, pinFile, selector: { uri: 'pkcs11:serial=abc;token=a%20b' } });
  expect(hsm({ HSM_URI: `pkcs11:slot-id=3?module-path=${MODULE}&pin-source=${pinFile}` })?.selector).toEqual({
    uri: 'pkcs11:slot-id=3',
  });
});

test('values present in one place only are combined', () => {
  // the module and the PIN from the variables, the token from the URI
  expect(hsm({ HSM_URI: 'pkcs11:token=hydra', HSM_LIBRARY: MODULE, HSM_PIN: PIN })).toMatchObject({
    library: MODULE,
    pin: PIN,
    selector: { uri: 'pkcs11:token=hydra' },
  });
  // the token selector in effect (label > serial > slot) joins the URI's token attributes
  expect(
    hsm({ HSM_URI: `pkcs11:serial=abc?module-path=${MODULE}`, HSM_TOKEN_LABEL: 'hydra', HSM_PIN_FILE: pinFile }),
  ).toMatchObject({ selector: { uri: 'pkcs11:serial=abc;token=hydra' }, pin: PIN, pinFile });
  expect(hsm({ HSM_URI: `pkcs11:token=t?module-path=${MODULE}`, HSM_SLOT: '0x10', HSM_PIN: PIN })?.selector).toEqual({
    uri: 'pkcs11:slot-id=16;token=t',
  });
  // a URI that names no token leaves the variables' selector as it is (Hydra's rule for a label included)
  expect(
    hsm({ HSM_URI: `pkcs11:?module-path=${MODULE}&pin-value=${PIN}`, HSM_TOKEN_LABEL: 'hydra' })?.selector,
  ).toEqual({ tokenLabel: 'hydra', onAmbiguous: 'first' });
  // the same value in both places is no conflict
  expect(
    hsm({
      HSM_URI: `pkcs11:token=hydra?module-path=${MODULE}&pin-value=${PIN}`,
      HSM_LIBRARY: MODULE,
      HSM_TOKEN_LABEL: 'hydra',
      HSM_PIN: PIN,
    }),
  ).toMatchObject({ library: MODULE, pin: PIN, selector: { uri: 'pkcs11:token=hydra' } });
  expect(
    hsm({ HSM_URI: `pkcs11:token=t?pin-source=file://${pinFile}`, HSM_LIBRARY: MODULE, HSM_PIN_FILE: pinFile })?.pin,
  ).toBe(PIN);
  // module-name with HSM_LIBRARY: it must name that module
  expect(hsm({ HSM_URI: 'pkcs11:token=t?module-name=softhsm2', HSM_LIBRARY: MODULE, HSM_PIN: PIN })?.library).toBe(
    MODULE,
  );
  // module-name in the module-path directory
  expect(
    hsm({ HSM_URI: 'pkcs11:token=t?module-path=/usr/lib/softhsm&module-name=softhsm2', HSM_PIN: PIN })?.library,
  ).toBe(MODULE);
  // unknown query attributes are ignored
  expect(hsm({ HSM_URI: `pkcs11:token=t?x-vendor=1&module-path=${MODULE}`, HSM_PIN: PIN })?.library).toBe(MODULE);
});

test.each([
  [
    { HSM_URI: 'pkcs11:token=a?module-path=/other/lib.so', HSM_LIBRARY: MODULE, HSM_PIN: PIN },
    /module-path.*HSM_LIBRARY/,
  ],
  [
    { HSM_URI: 'pkcs11:token=a?module-name=opensc-pkcs11', HSM_LIBRARY: MODULE, HSM_PIN: PIN },
    /module-name.*HSM_LIBRARY/,
  ],
  [{ HSM_URI: 'pkcs11:token=a', HSM_LIBRARY: MODULE, HSM_TOKEN_LABEL: 'b', HSM_PIN: PIN }, /token=.*HSM_TOKEN_LABEL/],
  [
    { HSM_URI: 'pkcs11:serial=a', HSM_LIBRARY: MODULE, HSM_TOKEN_SERIAL: 'b', HSM_PIN: PIN },
    /serial=.*HSM_TOKEN_SERIAL/,
  ],
  [{ HSM_URI: 'pkcs11:slot-id=1', HSM_LIBRARY: MODULE, HSM_SLOT: '2', HSM_PIN: PIN }, /slot-id=.*HSM_SLOT/],
  [{ HSM_URI: `pkcs11:token=a?pin-value=${PIN}`, HSM_LIBRARY: MODULE, HSM_PIN: OTHER_PIN }, /pin-value.*HSM_PIN/],
  [{ HSM_URI: `pkcs11:token=a?pin-value=${PIN}`, HSM_LIBRARY: MODULE, HSM_PIN_FILE: '/x' }, /as a value.*as a file/],
  [{ HSM_URI: 'pkcs11:token=a?pin-source=/x', HSM_LIBRARY: MODULE, HSM_PIN: PIN }, /as a value.*as a file/],
  [{ HSM_URI: 'pkcs11:token=a?pin-source=/x', HSM_LIBRARY: MODULE, HSM_PIN_FILE: '/y' }, /pin-source.*HSM_PIN_FILE/],
  [{ HSM_URI: 'pkcs11:token=a?pin-source=/nonexistent/pin', HSM_LIBRARY: MODULE }, /cannot read "\/nonexistent\/pin"/],
  [{ HSM_URI: 'pkcs11:token=a?pin-source=%7C/usr/bin/get-pin', HSM_LIBRARY: MODULE }, /ERR_URI_PIN_SOURCE/],
  [{ HSM_URI: `pkcs11:token=a b?pin-value=${PIN}`, HSM_LIBRARY: MODULE }, /ERR_URI_INVALID/],
  [{ HSM_URI: `pkcs11:token=a?pin-value=${PIN}&pin-value=${PIN}`, HSM_LIBRARY: MODULE }, /ERR_URI_INVALID/],
  [{ HSM_URI: `/usr/lib/softhsm/libsofthsm2.so`, HSM_PIN: PIN }, /ERR_URI_INVALID/],
  [{ HSM_URI: 'pkcs11:token=a;object=k;type=private', HSM_LIBRARY: MODULE, HSM_PIN: PIN }, /name a key/],
  [{ HSM_URI: 'pkcs11:token=a?module-name=softhsm2', HSM_PIN: PIN }, /ERR_URI_UNSUPPORTED/],
  [{ HSM_URI: 'pkcs11:token=a?module-path=lib/x.so', HSM_PIN: PIN }, /ERR_URI_UNSUPPORTED/],
])('refused, naming HSM_URI and the other variable: %o', (env, message) => {
  const { variable, message: text } = refusal(env);
  expect(variable).toBe('HSM_URI');
  expect(text).toMatch(message);
});

test('what is missing is named as before', () => {
  expect(refusal({ HSM_URI: `pkcs11:token=a?pin-value=${PIN}` }).variable).toBe('HSM_LIBRARY');
  expect(refusal({ HSM_URI: `pkcs11:?module-path=${MODULE}&pin-value=${PIN}` }).variable).toBe('HSM_TOKEN_LABEL');
  expect(refusal({ HSM_URI: `pkcs11:token=a?module-path=${MODULE}` }).variable).toBe('HSM_PIN');
  expect(
    refusal({ HSM_URI: 'pkcs11:token=a', HSM_LIBRARY: MODULE, HSM_PIN: PIN, HSM_PIN_FILE: pinFile }).variable,
  ).toBe('HSM_PIN_FILE');
});

test('HSM_URI is read only with HSM_ENABLED=true', () => {
  expect(loadConfig({ HSM_URI: 'not a uri' }).hsm).toBeUndefined();
});
