// `hsm-jwks jwt sign`, `secrets rotate`, `token init`, `doctor` and `serve`.
import * as fs from 'node:fs';

import type { KeySigner } from '../keys/key-manager';
import { checkKid, checkSet } from '../keys/names';
import { rotateSecrets } from '../keys/store-admin';
import { startService } from '../server/serve';
import { type Command, checked, type Invocation } from './context';
import { applyDevDefaults } from './dev-defaults';
import { doctor } from './doctor';
import { EXIT, printJson, printText, say } from './output';
import { UsageError } from './spec';
import { ensureToken, SOFTHSM_LIBRARY } from './token-files';

function str(inv: Invocation, name: string): string | undefined {
  const v = inv.options[name];
  return typeof v === 'string' ? v : undefined;
}

function claimsOf(inv: Invocation): Record<string, unknown> {
  const text = str(inv, 'claims');
  if (text === undefined || text === '') throw new UsageError('missing --claims', inv.spec);
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--claims is not JSON: ${(e as Error).message}`, inv.spec);
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    throw new UsageError('--claims must be a JSON object', inv.spec);
  return claims as Record<string, unknown>;
}

const jwtSign: Command = {
  check(inv) {
    checked(inv.spec, '<set>', () => checkSet(inv.args.set));
    const kid = str(inv, 'kid');
    if (kid === '') throw new UsageError('--kid must not be empty', inv.spec);
    if (kid !== undefined) checked(inv.spec, '--kid', () => checkKid(kid));
    claimsOf(inv);
  },
  async run(inv, ctx) {
    const kid = str(inv, 'kid');
    printText(await ctx.withManager((km: KeySigner) => km.signJwt(inv.args.set!, claimsOf(inv), kid ? { kid } : {})));
    return EXIT.ok;
  },
};

const secretsRotate: Command = {
  async run(_inv, ctx) {
    printJson({ resealed: await rotateSecrets(ctx.config()) });
    return EXIT.ok;
  },
};

const tokenInit: Command = {
  check(inv) {
    for (const name of ['label', 'pin-file', 'so-pin-file'])
      if (!str(inv, name)) throw new UsageError(`missing --${name}`, inv.spec);
    const label = str(inv, 'label')!;
    if (Buffer.byteLength(label) > 32 || label !== label.trim())
      throw new UsageError('--label must be 1 to 32 bytes of UTF-8 without leading or trailing blanks', inv.spec);
    const slot = str(inv, 'slot');
    if (slot !== undefined && !/^\d+$/.test(slot))
      throw new UsageError('--slot must be a slot id (a non-negative integer)', inv.spec);
    if (slot !== undefined && inv.options.reset === true)
      throw new UsageError('--reset finds the token by its label: give --slot or --reset, not both', inv.spec);
    if (inv.options.reset === true && !fs.existsSync(str(inv, 'so-pin-file')!))
      throw new UsageError('--reset needs the SO PIN: --so-pin-file must name an existing file', inv.spec);
  },
  async run(inv) {
    const slot = str(inv, 'slot');
    const initArgs = inv.env.HSM_INIT_ARGS || undefined;
    const token = await ensureToken({
      library: str(inv, 'library') || inv.env.HSM_LIBRARY?.trim() || SOFTHSM_LIBRARY,
      label: str(inv, 'label')!,
      pinFile: str(inv, 'pin-file')!,
      soPinFile: str(inv, 'so-pin-file')!,
      ...(slot === undefined ? {} : { slot: BigInt(slot) }),
      ...(inv.options.reset === true ? { reset: true } : {}),
      ...(initArgs === undefined ? {} : { initArgs }),
    });
    say(
      token.existing
        ? `hsm-jwks: token ${JSON.stringify(token.label)} is there already (slot ${token.slot}): left as it is`
        : `hsm-jwks: token ${JSON.stringify(token.label)} initialised in slot ${token.slot}; user PIN in ${token.pinFile}, SO PIN in ${token.soPinFile}`,
    );
    printJson(token);
    return EXIT.ok;
  },
};

const doctorCommand: Command = {
  async run(_inv, ctx) {
    const { report, problems } = await doctor(ctx.config());
    printJson({ ...report, problems });
    for (const p of problems) say(`hsm-jwks doctor: ${p}`);
    return problems.length === 0 ? EXIT.ok : EXIT.failed;
  },
};

/** Runs the service until SIGTERM or SIGINT, then closes it cleanly. */
const serve: Command = {
  async run(inv, ctx) {
    const logger = ctx.logger();
    const config = inv.options.dev === true ? await applyDevDefaults(ctx.config(), inv.env, logger) : ctx.config();
    const service = await startService(config, { logger });
    say(`hsm-jwks: serving ${service.publicUrl}/.well-known/jwks.json (admin API at ${service.adminUrl}/admin)`);
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info('stopping', { signal });
        void service.close().then(resolve, (e: unknown) => {
          logger.error('stopping failed', { message: (e as Error).message });
          resolve();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    return EXIT.ok;
  },
};

export const OTHER_COMMANDS: Record<string, Command> = {
  'jwt sign': jwtSign,
  'secrets rotate': secretsRotate,
  'token init': tokenInit,
  doctor: doctorCommand,
  serve,
};
