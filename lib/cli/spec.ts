// The commands the CLI knows: their arguments, options and usage lines, and the parser that checks
// an invocation against them before any work is done (a usage error exits 2 before anything runs).
import { parseArgs } from 'node:util';

export type OptionType = 'string' | 'boolean';

export interface CommandSpec {
  /** 'keys create', 'doctor', … */
  name: string;
  /** Positional arguments: required ones first, then optional ones (names as shown in the usage). */
  required: string[];
  optional?: string[];
  options: Record<string, { type: OptionType; short?: string; value?: string; help: string }>;
  summary: string;
  /** Lines after the summary in the command's own help. */
  details?: string;
}

const YES = { type: 'boolean' as const, short: 'y', help: 'do not ask for confirmation' };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'keys create',
    required: ['<set>'],
    options: {
      alg: { type: 'string', value: 'ALG', help: 'the JWS alg (RS256, PS256, ES256, EdDSA, …; RSA-OAEP-256 for enc)' },
      kid: { type: 'string', value: 'KID', help: 'the key id (default: a new UUID)' },
      use: { type: 'string', value: 'sig|enc', help: 'the key use (default sig)' },
      'activate-now': { type: 'boolean', help: 'sign with the new key at once, not after the publish-ahead time' },
    },
    summary: 'generate a key (on the HSM when enabled)',
    details:
      'In a set that already has a signing key the new key signs after ROTATE_PUBLISH_AHEAD, or at once\nwith --activate-now. --alg is required.',
  },
  {
    name: 'keys get',
    required: ['<set>'],
    optional: ['[kid]'],
    options: { private: { type: 'boolean', help: 'include the private members of software keys' } },
    summary: 'the public JWKS of a set, or one key',
  },
  {
    name: 'keys import',
    required: ['<set>', '<file.json>'],
    options: {},
    summary: 'a private JWK or JWKS into the software store',
  },
  {
    name: 'keys delete',
    required: ['<set>'],
    optional: ['[kid]'],
    options: { yes: YES },
    summary: 'a key, or the whole set (HSM keys are destroyed for good)',
    details:
      'Deleting a whole set asks for confirmation on a terminal; without a terminal it needs --yes.\nPrints what was destroyed: the count, the kids and where each key was (hsm or software).',
  },
  {
    name: 'keys list',
    required: [],
    options: {},
    summary: 'sets, kids, alg, use, state and where each key lives',
  },
  {
    name: 'keys rotate',
    required: ['<set>'],
    options: {
      alg: { type: 'string', value: 'ALG', help: 'the alg of the new key (default: that of the newest key)' },
    },
    summary: 'a new key that signs after the publish-ahead time; the current ones retire then',
  },
  {
    name: 'keys cert import',
    required: ['<set>', '<kid>', '<pem-file>'],
    options: {},
    summary: "publish a certificate (chain, PEM) with a key as x5c, replacing the key's certificates",
    details:
      "One certificate of the file must be the key's (its public key), the others certify it in turn.\nHSM keys: certificate objects on the token under the key's CKA_ID; software keys: sealed in the store.",
  },
  {
    name: 'keys cert remove',
    required: ['<set>', '<kid>'],
    options: {},
    summary: "remove a key's certificates (it is published without x5c)",
  },
  {
    name: 'jwt sign',
    required: ['<set>'],
    options: {
      claims: { type: 'string', value: 'JSON', help: 'the claims, a JSON object (required)' },
      kid: { type: 'string', value: 'KID', help: 'sign with this key instead of the newest' },
    },
    summary: "a JWT signed by the set's newest key (or KID)",
  },
  {
    name: 'secrets rotate',
    required: [],
    options: {},
    summary: 're-seal software keys under the first SECRETS_SYSTEM secret',
  },
  {
    name: 'token init',
    required: [],
    options: {
      label: { type: 'string', value: 'LABEL', help: 'the token label (required)' },
      'pin-file': {
        type: 'string',
        value: 'FILE',
        help: 'the user PIN: read from FILE, or made and written there (0600)',
      },
      'so-pin-file': {
        type: 'string',
        value: 'FILE',
        help: 'the SO PIN: read from FILE, or made and written there (0600); keep it to reset the token',
      },
      reset: { type: 'boolean', help: 're-initialise the token that has the label (SO PIN from --so-pin-file)' },
      slot: { type: 'string', value: 'ID', help: 'the slot to initialise (default: the first uninitialised token)' },
      library: { type: 'string', value: 'PATH', help: 'the PKCS#11 module (default HSM_LIBRARY, else SoftHSM2)' },
    },
    summary: 'initialise a token (C_InitToken, C_InitPIN): no PIN on any command line',
    details:
      'An existing token with the label is kept (exit 0, "existing": true). --reset re-initialises it with\nthe SO PIN kept in --so-pin-file: every object on it is destroyed, the user PIN is the one in\n--pin-file (made when missing). PIN files are made 0600 and never overwritten; no PIN is printed.',
  },
  {
    name: 'doctor',
    required: [],
    options: {},
    summary: 'module, slots, token, login, store and algorithms available (credentials redacted)',
  },
  {
    name: 'serve',
    required: [],
    options: { dev: { type: 'boolean', help: 'development defaults under ./data (a SoftHSM2 token included)' } },
    summary: 'the HTTP key service',
  },
  {
    name: 'bench',
    required: [],
    options: {},
    summary: 'measure signing on the configured module (flags: --quick, --seconds S, --reps N, --keys LIST)',
  },
];

/**
 * `--uri`: the HSM as a PKCS#11 URI (RFC 7512) for one command, as HSM_URI with HSM_ENABLED=true
 * (docs/cli.md#--uri); on every command that opens the token.
 */
const URI = {
  type: 'string' as const,
  value: 'URI',
  help: 'the HSM as a PKCS#11 URI (pkcs11:token=…?module-path=…&pin-source=…): HSM_URI, with HSM_ENABLED=true',
};
const WITHOUT_TOKEN = new Set(['secrets rotate', 'token init', 'bench']);
for (const c of COMMANDS) if (!WITHOUT_TOKEN.has(c.name)) c.options.uri = URI;

/** A command line that does not fit: exit 2, the message and `usage` on stderr, before any work. */
export class UsageError extends Error {
  /** The usage printed after the message: the command's, its group's, or (default) the short list. */
  readonly usage: string | undefined;
  constructor(message: string, usage?: CommandSpec | string) {
    super(message);
    this.usage = typeof usage === 'object' ? commandUsage(usage) : usage;
  }
}

function optionsLine(spec: CommandSpec): string {
  return Object.entries(spec.options)
    .map(([name, o]) => {
      const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
      return (name === 'alg' && spec.name === 'keys create') || (name === 'claims' && spec.name === 'jwt sign')
        ? flag
        : `[${flag}]`;
    })
    .join(' ');
}

export function synopsis(spec: CommandSpec): string {
  return ['hsm-jwks', spec.name, ...spec.required, ...(spec.optional ?? []), optionsLine(spec)]
    .filter((p) => p !== '')
    .join(' ');
}

/** One command's help: its synopsis, summary, details and options. */
export function commandUsage(spec: CommandSpec): string {
  const lines = [`usage: ${synopsis(spec)}`, '', `  ${spec.summary}`];
  if (spec.details) lines.push(...spec.details.split('\n').map((l) => `  ${l}`));
  const opts = Object.entries(spec.options);
  if (opts.length > 0) {
    lines.push('', 'options:');
    for (const [name, o] of opts) {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
      lines.push(`  ${flag.padEnd(22)} ${o.help}`);
    }
  }
  lines.push(`  ${'-h, --help'.padEnd(22)} this help`);
  return lines.join('\n');
}

/** The commands of a group ('keys'), or all of them. */
export function groupUsage(group?: string): string {
  const specs = COMMANDS.filter((c) => group === undefined || c.name.split(' ')[0] === group);
  const width = Math.max(...specs.map((c) => c.name.length));
  return [
    group === undefined ? 'usage: hsm-jwks <command> [arguments] [options]' : `usage: hsm-jwks ${group} <command>`,
    '',
    ...specs.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    "`hsm-jwks <command> --help` shows a command's arguments and options; `hsm-jwks --version` the version.",
    ...(group === undefined
      ? [
          '',
          'Configuration comes from the environment: HSM_ENABLED, HSM_LIBRARY, HSM_PIN or HSM_PIN_FILE,',
          'HSM_TOKEN_LABEL / HSM_TOKEN_SERIAL / HSM_SLOT, HSM_URI (or --uri), HSM_KEY_SET_PREFIX, HSM_INIT_ARGS,',
          'HSM_POOL_SIZE, DSN, SECRETS_SYSTEM, LOG_LEVEL, LOG_FORMAT, ROTATE_PUBLISH_AHEAD, ROTATE_RETIRE_AFTER,',
          'TOKEN_MAX_LIFETIME, ROTATE_EVERY, ROTATE_REMOVED (see the README). Commands other than serve log at',
          'warn unless LOG_LEVEL is set.',
          'Exit codes: 0 done, 1 failed, 2 usage, 3 configuration.',
        ]
      : []),
  ].join('\n');
}

export type Parsed =
  | { kind: 'help'; text: string; exit: 0 | 2 }
  | { kind: 'version' }
  | { kind: 'bench'; args: string[] }
  | {
      kind: 'run';
      spec: CommandSpec;
      args: Record<string, string | undefined>;
      options: Record<string, string | boolean | undefined>;
    };

const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]!));

/** Checks argv against the commands; UsageError on anything that does not fit. */
export function parseCommandLine(argv: readonly string[]): Parsed {
  const first = argv[0];
  if (first === undefined) return { kind: 'help', text: groupUsage(), exit: 2 };
  if (first === '--version' || first === '-V') {
    if (argv.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(argv[1])} after --version`);
    return { kind: 'version' };
  }
  if (first === '--help' || first === '-h') return { kind: 'help', text: groupUsage(), exit: 0 };
  if (first === 'help') {
    const rest = argv.slice(1);
    if (rest.length === 0) return { kind: 'help', text: groupUsage(), exit: 0 };
    const spec = COMMANDS.find((c) => c.name === rest.join(' '));
    if (spec) return { kind: 'help', text: commandUsage(spec), exit: 0 };
    if (rest.length === 1 && GROUPS.has(rest[0]!)) return { kind: 'help', text: groupUsage(rest[0]), exit: 0 };
    throw new UsageError(`no help for ${JSON.stringify(rest.join(' '))}: unknown command`);
  }
  if (first === 'bench') return { kind: 'bench', args: argv.slice(1) };
  if (first.startsWith('-')) throw new UsageError(`unknown option ${JSON.stringify(first)} before the command`);
  let spec: CommandSpec | undefined;
  let rest: string[];
  if (GROUPS.has(first)) {
    const sub = argv[1];
    if (sub === undefined || sub === '--help' || sub === '-h') {
      if (sub === undefined) throw new UsageError(`${first}: which command?`, groupUsage(first));
      return { kind: 'help', text: groupUsage(first), exit: 0 };
    }
    spec = COMMANDS.find((c) => c.name === `${first} ${sub}`);
    rest = argv.slice(2);
    const third = argv[2];
    if (!spec && third !== undefined && !third.startsWith('-')) {
      spec = COMMANDS.find((c) => c.name === `${first} ${sub} ${third}`); // keys cert import
      rest = argv.slice(3);
    }
    if (!spec) throw new UsageError(`unknown ${first} command ${JSON.stringify(sub)}`, groupUsage(first));
  } else {
    spec = COMMANDS.find((c) => c.name === first);
    if (!spec) throw new UsageError(`unknown command ${JSON.stringify(first)}`);
    rest = argv.slice(1);
  }
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(
          Object.entries(spec.options).map(([n, o]) => [n, { type: o.type, ...(o.short ? { short: o.short } : {}) }]),
        ),
        help: { type: 'boolean', short: 'h' },
      },
    }) as typeof parsed;
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!, spec);
  }
  if (parsed.values.help) return { kind: 'help', text: commandUsage(spec), exit: 0 };
  const names = [...spec.required, ...(spec.optional ?? [])];
  if (parsed.positionals.length > names.length) {
    const extra = parsed.positionals.slice(names.length);
    throw new UsageError(
      `unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((a) => JSON.stringify(a)).join(' ')}`,
      spec,
    );
  }
  const args: Record<string, string | undefined> = {};
  names.forEach((n, i) => {
    args[n.replace(/[<>[\]]/g, '')] = parsed.positionals[i];
  });
  for (const [i, n] of spec.required.entries()) {
    const v = parsed.positionals[i];
    if (v === undefined || v === '') throw new UsageError(`missing ${n}`, spec);
  }
  return { kind: 'run', spec, args, options: parsed.values };
}
