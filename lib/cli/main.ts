#!/usr/bin/env node
// The `hsm-jwks` command. Reads the same environment as the library (docs/configuration.md), prints JSON
// results on stdout and messages on stderr. Exit codes: 0 done, 1 failed, 2 usage (always before
// any work), 3 configuration. The commands: spec.ts (arguments, options, help), keys-commands.ts,
// other-commands.ts.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ConfigError } from '../config';
import { CERT_COMMANDS } from './cert-commands';
import { type Command, Context, packageVersion } from './context';
import { KEYS_COMMANDS } from './keys-commands';
import { OTHER_COMMANDS } from './other-commands';
import { EXIT, printText, say } from './output';
import { redactText } from './redact';
import { groupUsage, parseCommandLine, UsageError } from './spec';

const COMMANDS: Record<string, Command> = { ...KEYS_COMMANDS, ...CERT_COMMANDS, ...OTHER_COMMANDS };

async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv);
  switch (parsed.kind) {
    case 'version':
      printText(`hsm-jwks ${packageVersion()}`);
      return EXIT.ok;
    case 'help':
      (parsed.exit === 0 ? printText : say)(parsed.text);
      return parsed.exit;
    case 'bench':
      return runBench(parsed.args);
    case 'run': {
      const command = COMMANDS[parsed.spec.name];
      if (!command) throw new UsageError(`unknown command ${JSON.stringify(parsed.spec.name)}`);
      const inv = { spec: parsed.spec, args: parsed.args, options: parsed.options, env: process.env };
      command.check?.(inv);
      return command.run(inv, new Context(inv));
    }
  }
}

/**
 * `hsm-jwks bench`: the package's benchmark (bench/run.js) on the module that HSM_LIBRARY,
 * HSM_TOKEN_LABEL and HSM_PIN name (a temporary SoftHSM2 token when they are unset). Its flags pass
 * through; its report goes to stdout.
 */
function runBench(args: string[]): number {
  const script = path.join(__dirname, '..', '..', '..', 'bench', 'run.js');
  if (!fs.existsSync(script)) throw new UsageError(`the benchmark is not installed with this package (${script})`);
  const r = spawnSync(process.execPath, [script, ...args], { stdio: 'inherit', env: process.env });
  return r.status ?? EXIT.failed;
}

/** The error and its causes, one line each (`code: message`): the cause says which token, slot or file. */
export function describeError(e: unknown): string {
  const lines: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    const message = (cur as Error).message ?? String(cur);
    const line = `${typeof code === 'string' ? `${code}: ` : ''}${message}`;
    if (!lines.includes(line)) lines.push(line);
    cur = (cur as { cause?: unknown }).cause;
  }
  return redactText(lines.map((l, i) => (i === 0 ? l : `  because: ${l}`)).join('\n'));
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      say(`hsm-jwks: ${e.message}\n\n${e.usage ?? groupUsage()}`);
      return EXIT.usage;
    }
    say(`hsm-jwks: ${describeError(e)}`);
    return e instanceof ConfigError ? EXIT.config : EXIT.failed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
