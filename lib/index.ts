// Public API of hsm-jwks (`hsm-jwks`): the layers' entry modules, each also a subpath of its own
// (package.json "exports"): `hsm-jwks/pkcs11` (modules, tokens, key pairs, URIs, errors),
// `hsm-jwks/jose` (algorithms, JWKs, kids, imports, Signers, compact JWS/JWT), `hsm-jwks/store` (the
// sealed software store), `hsm-jwks/keys` (key managers, their configuration). `hsm-jwks/server`
// (the key service) and `hsm-jwks/oidc-provider` are subpaths only: this entry never loads fastify.
export * from './pkcs11/index';
export * from './jose/index';
export * from './store/index';
export * from './keys/index';

// Here since 0.1 and kept (in no subpath): the key manager's classes, and helpers of the layers.
export { KeyRing, DEFAULT_PUBLISH_AHEAD_MS } from './keys/key-ring';
export type { KeyRingOptions } from './keys/key-ring';
export { HsmKeySource } from './keys/hsm-source';
export { SoftwareKeySource } from './keys/software-source';
export type { KeyEntry } from './keys/key-entry';
export { describeToken } from './keys/create';
export { stateAt } from './keys/lifecycle';
export { useOf } from './jose/jwk';
