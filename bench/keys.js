'use strict';
// The key types of the benchmark and how each side signs with them. Every HSM path signs the same
// 256-byte message: hsm-jwks hashes on the host for ECDSA (inside the measured call), pkcs11js and
// the raw C loop get the digest ready-made (as the anchors in shared/reference/perf-anchors.md did).
const KEYS = {
  'p-256': {
    id: 'bench-p-256',
    spec: { type: 'ec', curve: 'P-256' },
    mechanism: { type: 'ECDSA', hash: 'SHA-256' },
    alg: 'ES256',
    raw: ['ecdsa', 32],
    p11: { mechanism: 0x1041, prehash: 'sha256' },
    node: ['ec', { namedCurve: 'P-256' }],
    nodeHash: 'sha256',
  },
  'p-521': {
    id: 'bench-p-521',
    spec: { type: 'ec', curve: 'P-521' },
    mechanism: { type: 'ECDSA', hash: 'SHA-512' },
    alg: 'ES512',
    raw: ['ecdsa', 64],
    p11: { mechanism: 0x1041, prehash: 'sha512' },
    node: ['ec', { namedCurve: 'P-521' }],
    nodeHash: 'sha512',
  },
  'rsa-2048': {
    id: 'bench-rsa-2048',
    spec: { type: 'rsa', bits: 2048 },
    mechanism: { type: 'RSA-PKCS1', hash: 'SHA-256' },
    alg: 'RS256',
    raw: ['rsa-pkcs-sha256', 256],
    p11: { mechanism: 0x40 },
    node: ['rsa', { modulusLength: 2048 }],
    nodeHash: 'sha256',
  },
  'rsa-4096': {
    id: 'bench-rsa-4096',
    spec: { type: 'rsa', bits: 4096 },
    mechanism: { type: 'RSA-PKCS1', hash: 'SHA-256' },
    alg: 'RS256',
    raw: ['rsa-pkcs-sha256', 256],
    p11: { mechanism: 0x40 },
    node: ['rsa', { modulusLength: 4096 }],
    nodeHash: 'sha256',
  },
  ed25519: {
    id: 'bench-ed25519',
    spec: { type: 'ed25519' },
    mechanism: { type: 'EdDSA' },
    alg: 'EdDSA',
    raw: ['eddsa', 256],
    p11: { mechanism: 0x1057 },
    node: ['ed25519'],
    nodeHash: null,
  },
};

module.exports = { KEYS };
