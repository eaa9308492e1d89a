// RTLD_DEEPBIND on and off. Inside Node, a module loaded without it binds its libcrypto calls to
// Node's bundled OpenSSL (P-521 then signs 6.3x slower here); with it, to its own. Either way the
// signatures must verify. Load, use and close in turn: the registry keeps one load per path.
import { verify } from 'node:crypto';

import { Pkcs11Module } from '../../lib';
import { publicKeyObject } from '../helpers/keys';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

beforeAll(() => softHsm().initToken('deepbind'));

test.each([true, false])('deepBind %s: P-521 signatures verify', async (deepBind) => {
  const mod = await Pkcs11Module.load(SOFTHSM_MODULE, { deepBind });
  try {
    expect(mod.describe()).toMatchObject({ deepBind, references: 1, ownsInitialization: true });
    const token = await mod.openToken({ tokenLabel: 'deepbind' }, { pin: USER_PIN });
    const id = Buffer.from(`p521-${deepBind}`);
    const pair = await token.generateKeyPair({ type: 'ec', curve: 'P-521' }, { label: 'db', id });
    const data = Buffer.from('eyJhbGciOiJFUzUxMiJ9.e30');
    for (let i = 0; i < 20; i++) {
      const sig = await token.sign(pair, { type: 'ECDSA', hash: 'SHA-512' }, data);
      expect(verify('sha512', data, { key: publicKeyObject(pair), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
    }
  } finally {
    await mod.close();
  }
});
