// `hsm-jwks keys cert import|remove`: a key's certificate chain, published with it as x5c and
// x5t#S256 (docs/keys.md, "Certificates"). The set, kid and file are checked before the
// configuration is read or the token opened; the key's checks (is the certificate the key's, does
// the chain link) are the key manager's, with their codes (exit 1).
import * as fs from 'node:fs';

import type { KeySets } from '../keys/key-manager';
import { checkKid, checkSet } from '../keys/names';
import { type Command, checked, type Invocation } from './context';
import { EXIT, printJson, say } from './output';
import { UsageError } from './spec';

function checkKey(inv: Invocation): { set: string; kid: string } {
  checked(inv.spec, '<set>', () => checkSet(inv.args.set));
  checked(inv.spec, '<kid>', () => checkKid(inv.args.kid!));
  return { set: inv.args.set!, kid: inv.args.kid! };
}

/** The file's text, which must hold a PEM certificate (a usage error otherwise, as `keys import`'s JSON). */
function readPem(inv: Invocation): string {
  const file = inv.args['pem-file']!;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, inv.spec);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new UsageError(`${file} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`, inv.spec);
  return text;
}

const WHERE = { hsm: 'on the token', software: 'in the software store' } as const;

const importCert: Command = {
  check(inv) {
    checkKey(inv);
    readPem(inv);
  },
  async run(inv, ctx) {
    const { set, kid } = checkKey(inv);
    const pem = readPem(inv);
    const result = await ctx.withManager((km: KeySets) => km.importCertificate(set, kid, pem));
    say(
      `published ${result.certificates.length} certificate(s) with key ${JSON.stringify(kid)} of set ${JSON.stringify(set)}, kept ${WHERE[result.where]} (x5t#S256 ${result['x5t#S256']})`,
    );
    printJson(result);
    return EXIT.ok;
  },
};

const removeCert: Command = {
  check(inv) {
    checkKey(inv);
  },
  async run(inv, ctx) {
    const { set, kid } = checkKey(inv);
    const removed = await ctx.withManager((km: KeySets) => km.removeCertificate(set, kid));
    say(
      removed > 0
        ? `removed the certificates of key ${JSON.stringify(kid)} of set ${JSON.stringify(set)}: it is published without x5c`
        : `key ${JSON.stringify(kid)} of set ${JSON.stringify(set)} has no certificate`,
    );
    printJson({ set, kid, removed });
    return EXIT.ok;
  },
};

export const CERT_COMMANDS: Record<string, Command> = {
  'keys cert import': importCert,
  'keys cert remove': removeCert,
};
