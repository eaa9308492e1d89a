'use strict';
// A process using the key store, for store-processes.test.ts (run with --require ./register-ts.js).
//   child.js contend <dsn> <log> <go> <rounds> <holdMs>   withLock('contend') rounds times, logging
//                                                         "+pid"/"-pid" around holdMs; starts when
//                                                         the file <go> exists
//   child.js nolock  <dsn> <log> <go> <rounds> <holdMs>   the same without the lock (the control)
//   child.js hold    <dsn> <ttlMs>                        takes withLock('held'), prints "locked",
//                                                         holds it until killed
//   child.js write   <dsn> <set>                          adds one key to <set>, closes, exits
//   child.js idle    <dsn>                                opens, watches, never closes: must exit
//                                                         by itself (nothing may keep it alive)
// The sealing secret comes in SECRETS_SYSTEM. Prints nothing secret.
const fs = require('node:fs');
const { generateKeyPairSync } = require('node:crypto');
const { setTimeout: sleep } = require('node:timers/promises');

const { openKeyStore } = require('../../../lib/store/open-store.ts');

const [mode, dsn, ...args] = process.argv.slice(2);
const secrets = [process.env.SECRETS_SYSTEM];

async function waitFor(file) {
  while (!fs.existsSync(file)) await sleep(5);
}

async function contend(useLock) {
  const [log, go, rounds, holdMs] = [args[0], args[1], Number(args[2]), Number(args[3])];
  const store = openKeyStore(dsn, secrets);
  await store.list(); // migrated before the race starts
  process.stdout.write('ready\n');
  await waitFor(go);
  const section = async () => {
    fs.appendFileSync(log, `+${process.pid}\n`);
    await sleep(holdMs);
    fs.appendFileSync(log, `-${process.pid}\n`);
  };
  for (let i = 0; i < rounds; i++) {
    if (useLock) await store.withLock('contend', section);
    else await section();
  }
  await store.close();
}

async function hold() {
  const store = openKeyStore(dsn, secrets, { lockTtlMs: Number(args[0]) });
  await store.withLock('held', async () => {
    process.stdout.write('locked\n');
    await new Promise(() => setInterval(() => undefined, 1000)); // until SIGKILL
  });
}

async function write() {
  const store = openKeyStore(dsn, secrets);
  const set = args[0];
  const jwk = {
    ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }),
    kid: 'from-child',
    alg: 'ES256',
    use: 'sig',
  };
  await store.add([
    { set, kid: 'from-child', alg: 'ES256', use: 'sig', createdAt: new Date(), lifecycle: {}, privateJwk: jwk },
  ]);
  await store.close();
}

async function idle() {
  const store = openKeyStore(dsn, secrets);
  store.watch(() => undefined);
  await store.touch('idle');
  await sleep(1500); // long enough for the watcher to poll (and, on PostgreSQL, to LISTEN)
  process.stdout.write('idle\n');
}

const modes = { contend: () => contend(true), nolock: () => contend(false), hold, write, idle };
modes[mode]().catch((e) => {
  process.stderr.write(`child ${mode} failed: ${e?.code} ${e?.message}\n`);
  process.exit(1);
});
