// The part of oidc-provider (an untyped ES module) the tests use.
declare module 'oidc-provider' {
  export abstract class ExternalSigningKey {
    kid: string | undefined;
    alg: string | undefined;
  }
}
