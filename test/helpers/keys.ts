// Turns the public part read from the token into a node:crypto KeyObject, so signatures are
// verified in software, never by the token that made them.
import { createPublicKey, type KeyObject } from 'node:crypto';

import type { KeyPair } from '../../lib';

const b64u = (b: Buffer) => b.toString('base64url');

export function publicKeyObject(pair: KeyPair): KeyObject {
  const d = pair.publicKeyData;
  if (!d) throw new Error(`key pair ${pair.id.toString('hex')} has no public part`);
  switch (d.kty) {
    case 'RSA':
      return createPublicKey({ key: { kty: 'RSA', n: b64u(d.n), e: b64u(d.e) }, format: 'jwk' });
    case 'EC': {
      const size = (d.point.length - 1) / 2;
      const x = d.point.subarray(1, 1 + size);
      const y = d.point.subarray(1 + size);
      return createPublicKey({ key: { kty: 'EC', crv: d.crv, x: b64u(x), y: b64u(y) }, format: 'jwk' });
    }
    case 'OKP':
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64u(d.x) }, format: 'jwk' });
  }
}
