// `hsm-jwks keys …`: create, get, import, delete, list, rotate. Every argument is checked (check)
// before the configuration is read or the token opened.
import * as fs from 'node:fs';

import { ALGORITHMS, ENC_ALG } from '../jose/algorithms';
import { checkGeneration, symmetricOnHsm } from '../keys/generation';
import type { KeySets } from '../keys/key-manager';
import { checkKid, checkSet } from '../keys/names';
import { rotate, type RotatingKeys } from '../keys/rotation';
import type { KeyUse } from '../pkcs11/key-spec';
import { canAsk, confirm } from './confirm';
import { type Command, checked, type Invocation } from './context';
import { EXIT, printJson, say, withProgress } from './output';
import { UsageError } from './spec';

const KNOWN_ALGS = [...Object.keys(ALGORITHMS), ENC_ALG];

function str(inv: Invocation, name: string): string | undefined {
  const v = inv.options[name];
  return typeof v === 'string' ? v : undefined;
}

function checkSetArg(inv: Invocation): string {
  return checked(inv.spec, '<set>', () => checkSet(inv.args.set));
}

function checkKidOption(inv: Invocation, value: string | undefined, what: string): void {
  if (value === undefined) return;
  if (value === '') throw new UsageError(`${what} must not be empty`, inv.spec);
  checked(inv.spec, what, () => checkKid(value));
}

/** The alg and use as the key layer takes them; a case slip (es256) says what was meant. */
function checkAlg(inv: Invocation, alg: string, use: string): void {
  if (use !== 'sig' && use !== 'enc')
    throw new UsageError(`--use must be sig or enc, not ${JSON.stringify(use)}`, inv.spec);
  try {
    checkGeneration(alg, use);
  } catch (e) {
    const meant = KNOWN_ALGS.find((a) => a.toLowerCase() === alg.toLowerCase() && a !== alg);
    const hint = meant ? ` (did you mean ${meant}?)` : '';
    throw new UsageError(
      `--alg ${JSON.stringify(alg)}${use === 'enc' ? ' with --use enc' : ''}: ${(e as { code?: string }).code ?? 'invalid'}: ${(e as Error).message}${hint}`,
      inv.spec,
    );
  }
}

const create: Command = {
  check(inv) {
    checkSetArg(inv);
    const alg = str(inv, 'alg');
    if (alg === undefined || alg === '') throw new UsageError('missing --alg', inv.spec);
    checkKidOption(inv, str(inv, 'kid'), '--kid');
    checkAlg(inv, alg, str(inv, 'use') ?? 'sig');
  },
  async run(inv, ctx) {
    const set = inv.args.set!;
    const alg = str(inv, 'alg')!;
    const use = (str(inv, 'use') ?? 'sig') as KeyUse;
    const config = ctx.config();
    const secret = (checkGeneration(alg, use) as { kind?: string }).kind === 'secret';
    if (secret && config.hsm) throw symmetricOnHsm(alg); // before the token is opened or "generating" is said
    const what = `${secret ? 'an' : 'a'} ${alg} ${secret ? 'secret' : 'key pair'} ${config.hsm ? 'on the HSM' : 'in software'}`;
    const jwks = await ctx.withManager((km: KeySets) =>
      withProgress(`generating ${what}`, () =>
        km.generateAndPersistKeySet(set, str(inv, 'kid'), alg, use, {
          activateNow: inv.options['activate-now'] === true,
        }),
      ),
    );
    printJson(jwks);
    return EXIT.ok;
  },
};

const get: Command = {
  check(inv) {
    checkSetArg(inv);
    checkKidOption(inv, inv.args.kid, '[kid]');
  },
  async run(inv, ctx) {
    const { set, kid } = inv.args as { set: string; kid?: string };
    const options = { includePrivate: inv.options.private === true };
    printJson(
      await ctx.withManager((km: KeySets) => (kid ? km.getKey(set, kid, options) : km.getKeySet(set, options))),
    );
    return EXIT.ok;
  },
};

function readJson(inv: Invocation): unknown {
  const file = inv.args['file.json']!;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UsageError(`cannot read JSON from ${file}: ${why}`, inv.spec);
  }
}

const importKeys: Command = {
  check(inv) {
    checkSetArg(inv);
    readJson(inv);
  },
  async run(inv, ctx) {
    const set = inv.args.set!;
    const parsed = readJson(inv);
    const isSet = typeof parsed === 'object' && parsed !== null && 'keys' in parsed;
    await ctx.withManager((km: KeySets) => (isSet ? km.addKeySet(set, parsed) : km.addKey(set, parsed)));
    const count = isSet ? (parsed as { keys: unknown[] }).keys.length : 1;
    say(`imported ${count} key(s) into the software store, set ${JSON.stringify(set)}`);
    printJson({ set, imported: count });
    return EXIT.ok;
  },
};

const WHERE = { hsm: 'on the HSM (destroyed)', software: 'in the software store (removed)' } as const;

const remove: Command = {
  check(inv) {
    checkSetArg(inv);
    checkKidOption(inv, inv.args.kid, '[kid]');
    if (inv.args.kid === undefined && inv.options.yes !== true && !canAsk())
      throw new UsageError(
        'deleting a whole set needs a confirmation: stdin is not a terminal, so pass --yes to delete it',
        inv.spec,
      );
  },
  async run(inv, ctx) {
    const { set, kid } = inv.args as { set: string; kid?: string };
    return ctx.withManager(async (km: KeySets) => {
      const keys = (await km.list()).filter((k) => k.set === set && (kid === undefined || k.kid === kid));
      const count = (w: 'hsm' | 'software') => keys.filter((k) => k.where === w).length;
      const summary = (['hsm', 'software'] as const)
        .filter((w) => count(w) > 0)
        .map((w) => `${count(w)} ${WHERE[w]}`)
        .join(', ');
      if (kid === undefined && inv.options.yes !== true && keys.length > 0) {
        const kids = keys.map((k) => `${JSON.stringify(k.kid)} (${k.where})`).join(', ');
        say(`set ${JSON.stringify(set)} has ${keys.length} key(s): ${kids}`);
        if (!(await confirm(`Delete all ${keys.length} key(s) of set ${JSON.stringify(set)}: ${summary}?`))) {
          say('hsm-jwks: nothing deleted');
          return EXIT.failed;
        }
      }
      await (kid === undefined ? km.deleteKeySet(set) : km.deleteKey(set, kid));
      say(
        `hsm-jwks: deleted ${keys.length} key(s) of set ${JSON.stringify(set)}${summary ? `: ${summary}` : ''}${
          keys.length ? ` — ${keys.map((k) => k.kid).join(', ')}` : ''
        }`,
      );
      printJson({
        set,
        ...(kid === undefined ? {} : { kid }),
        deleted: keys.length,
        hsm: count('hsm'),
        software: count('software'),
        keys: keys.map((k) => ({ kid: k.kid, where: k.where, alg: k.alg })),
      });
      return EXIT.ok;
    });
  },
};

const list: Command = {
  async run(_inv, ctx) {
    // Keys that exist but cannot be used (a wrong secret, damaged objects) are not in the list: say so, and fail.
    const { keys, problems } = await ctx.withManager(async (km: KeySets) => ({
      keys: await km.list(),
      problems: await km.problems(),
    }));
    printJson(keys);
    for (const p of problems)
      say(
        `hsm-jwks: ${p.kind.startsWith('certificate-') ? 'not published: a certificate of' : 'not listed:'} ${p.kid === '' ? 'an object' : `key ${JSON.stringify(p.kid)}`} of set ${JSON.stringify(p.set)} (${p.where}): ${p.kind}: ${p.detail}`,
      );
    if (problems.length > 0)
      say(`hsm-jwks: ${problems.length} key(s) or object(s) cannot be used; hsm-jwks doctor says how to repair them`);
    return problems.length === 0 ? EXIT.ok : EXIT.failed;
  },
};

const rotateKeys: Command = {
  check(inv) {
    checkSetArg(inv);
    const alg = str(inv, 'alg');
    if (alg !== undefined) checkAlg(inv, alg, 'sig');
  },
  async run(inv, ctx) {
    const set = inv.args.set!;
    const alg = str(inv, 'alg');
    const config = ctx.config();
    const result = await ctx.withManager((km: RotatingKeys) =>
      rotate(km, set, config.service.rotation, alg ? { alg } : {}),
    );
    say(
      result.created
        ? `key ${result.kid} is published now and signs from ${result.activateAt.toISOString()}; ${result.retiring.length} key(s) retire then`
        : `a rotation is already pending: key ${result.kid} signs from ${result.activateAt.toISOString()}`,
    );
    printJson(result);
    return EXIT.ok;
  },
};

export const KEYS_COMMANDS: Record<string, Command> = {
  'keys create': create,
  'keys get': get,
  'keys import': importKeys,
  'keys delete': remove,
  'keys list': list,
  'keys rotate': rotateKeys,
};
