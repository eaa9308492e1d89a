// The KeyStore contract for coordination, on every backend (see store-contract.test.ts for how
// backends are chosen): withLock across instances (time-out, release on failure, a lease renewed
// while its holder runs), and change notification: every write records a change of its sets in
// its own transaction, and watch() reports it within freshnessMs, to other instances and to
// itself, also after the PostgreSQL LISTEN connection is lost. Across processes:
// store-processes.test.ts.
import { setTimeout as sleep } from 'node:timers/promises';

import type { KeyStore } from '../../lib/store/key-store';
import { openKeyStore } from '../../lib/store/open-store';
import { describeBackends } from './store-backends';
import { at, caught, expectStoreError, makeKey, SECRET_NEW, SECRET_OLD, until } from './store-helpers';

describeBackends('the key store coordination contract', 'store_coordination_test', (b) => {
  test('withLock excludes other instances, times out with ERR_STORE_LOCK_TIMEOUT, and is released on failure', async () => {
    const [one, two] = [b.open(), b.open()];
    const events: string[] = [];
    const section = (who: string) => async () => {
      events.push(`${who}+`);
      await sleep(40);
      events.push(`${who}-`);
      return who;
    };
    const results = await Promise.all(
      [1, 2, 3].flatMap((i) => [one.withLock('ensure', section(`a${i}`)), two.withLock('ensure', section(`b${i}`))]),
    );
    expect(results.sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2', 'b3']);
    for (let i = 0; i < events.length; i += 2) expect(events[i + 1]).toBe(events[i]!.replace('+', '-')); // never interleaved

    let release!: () => void;
    const held = one.withLock('held', () => new Promise<void>((r) => (release = r)));
    await until(() => release !== undefined, 5000, 'the lock is taken');
    const impatient = b.open([SECRET_OLD], { lockTimeoutMs: 300 });
    const started = Date.now();
    expectStoreError(await caught(() => impatient.withLock('held', async () => 'never')), 'ERR_STORE_LOCK_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await two.withLock('another name', async () => 'free')).toBe('free');
    release();
    await held;

    const boom = await caught(() => one.withLock('held', async () => Promise.reject(new Error('fn failed'))));
    expect((boom as Error).message).toBe('fn failed');
    expect(await impatient.withLock('held', async () => 'taken')).toBe('taken');
  });

  test('watch: a write by another instance is reported within freshnessMs, for every write method', async () => {
    const [watcher, writer] = [b.open([SECRET_NEW, SECRET_OLD]), b.open([SECRET_NEW, SECRET_OLD])];
    await b.open([SECRET_OLD]).add([makeKey('rotate', 'r', at(1))]); // for rotateSecrets to re-seal
    await writer.add([
      makeKey('upsert', 'u', at(1)),
      makeKey('life', 'l', at(1)),
      makeKey('del', 'd', at(1)),
      makeKey('delset', 'd', at(1)),
    ]);
    await writer.recordHsmKey({ set: 'forget', kid: 'f', alg: 'ES256', use: 'sig', createdAt: at(1), lifecycle: {} });
    expect(watcher.freshnessMs).toBeGreaterThan(0);
    expect(watcher.freshnessMs).toBeLessThanOrEqual(1000);
    await watcher.list(); // open, so the baseline is taken
    await sleep(watcher.freshnessMs + 200); // earlier writes are reported once, before the checks start
    const seen: Array<{ set: string; at: number }> = [];
    const stop = watcher.watch((set) => seen.push({ set, at: Date.now() }));
    await sleep(watcher.freshnessMs + 200);
    seen.length = 0;

    const writes: Array<[string, () => Promise<unknown>]> = [
      ['add', () => writer.add([makeKey('add', 'a', at(1))])],
      ['upsert', () => writer.upsert([makeKey('upsert', 'u', at(2))])],
      ['replace', () => writer.replaceSet('replace', [makeKey('replace', 'x', at(1))])],
      ['life', () => writer.setLifecycle('life', 'l', { retireAt: at(2) })],
      ['del', () => writer.deleteKey('del', 'd')],
      ['delset', () => writer.deleteSet('delset')],
      [
        'record',
        () =>
          writer.recordHsmKey({ set: 'record', kid: 'r', alg: 'ES256', use: 'sig', createdAt: at(1), lifecycle: {} }),
      ],
      ['forget', () => writer.forgetHsmKey('forget', 'f')],
      ['rotate', () => writer.rotateSecrets()],
      ['touched', () => writer.touch('touched')],
    ];
    for (const [set, write] of writes) {
      // A NOTIFY may reach the watcher before the writer's own COMMIT answer reaches this line.
      const started = Date.now();
      await write();
      const took = await until(
        () => seen.some((s) => s.set === set && s.at >= started),
        watcher.freshnessMs + 1000,
        `${set} reported`,
      );
      expect(took).toBeLessThanOrEqual(watcher.freshnessMs + 250);
      expect(seen.filter((s) => s.set !== set).map((s) => s.set)).toEqual([]); // only the set written
      seen.length = 0;
    }

    // A failed write changes nothing and reports nothing.
    await caught(() => writer.add([makeKey('add', 'a', at(1))]));
    await sleep(watcher.freshnessMs + 200);
    expect(seen).toEqual([]);

    stop();
    await writer.touch('after-stop');
    await sleep(watcher.freshnessMs + 200);
    expect(seen).toEqual([]);
  });

  test('watch reports own writes and touch(); several listeners; close() stops them all', async () => {
    const store = b.open();
    const [first, second]: string[][] = [[], []];
    const stopFirst = store.watch((set) => first.push(set));
    store.watch((set) => second.push(set));
    store.watch(() => {
      throw new Error('a listener that fails does not stop the others');
    });
    await store.touch('own');
    await until(
      () => first.includes('own') && second.includes('own'),
      store.freshnessMs + 1000,
      'own touch reported to both',
    );
    stopFirst();
    await store.add([makeKey('own2', 'k', at(1))]);
    await until(() => second.includes('own2'), store.freshnessMs + 1000, 'own add reported');
    expect(first).not.toContain('own2');

    const other = b.open();
    await store.close();
    second.length = 0;
    await other.touch('after-close');
    await sleep(store.freshnessMs + 200);
    expect(second).toEqual([]);
    expect(() => store.watch(() => undefined)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
  });

  test('every write records a change of each set it touched, in its own transaction', async () => {
    const store = b.open();
    const versions = async () =>
      Object.fromEntries(
        (await b.sql<{ set_name: string; version: unknown }>('SELECT set_name, version FROM store_changes')).map(
          (r) => [r.set_name, Number(r.version)],
        ),
      );
    await store.add([makeKey('x', 'k1', at(1)), makeKey('y', 'k1', at(1))]);
    expect(await versions()).toEqual({ x: 1, y: 1 });
    await caught(() => store.add([makeKey('z', 'k', at(1)), makeKey('x', 'k1', at(1))])); // rolled back: z not recorded
    await store.deleteKey('x', 'absent'); // nothing deleted: nothing recorded
    expect(await versions()).toEqual({ x: 1, y: 1 });
    await store.upsert([makeKey('x', 'k1', at(2))]);
    await store.touch('y');
    await store.touch('y');
    expect(await versions()).toEqual({ x: 2, y: 3 });
  });

  test('a lease outlives its ttl while its holder runs (renewed), and goes when it returns', async () => {
    const options = { lockTtlMs: 300, lockTimeoutMs: 5000 };
    const [holder, waiter] = [b.open([SECRET_OLD], options), b.open([SECRET_OLD], options)];
    let holderDone = 0;
    let holding = false;
    const held = holder.withLock('long', async () => {
      holding = true;
      await sleep(1200); // four ttls
      holderDone = Date.now();
    });
    await until(() => holding, 10_000, 'the holder took the lock'); // not a fixed sleep: under load, opening the store takes longer
    let waiterStarted = 0;
    await waiter.withLock('long', async () => {
      waiterStarted = Date.now();
    });
    await held;
    expect(holderDone).toBeGreaterThan(0);
    expect(waiterStarted).toBeGreaterThanOrEqual(holderDone);
    if (b.name === 'SQLite') expect(await b.sql('SELECT * FROM store_locks')).toEqual([]); // released, not left to expire
  });

  if (b.name === 'PostgreSQL')
    test('PostgreSQL: changes are still reported after the LISTEN connection is lost, and it listens again', async () => {
      const app = `hsm_jwks_listen_loss_${process.pid}`;
      const watcher: KeyStore = openKeyStore(`${b.dsn}&application_name=${app}`, [SECRET_OLD]);
      try {
        const seen: string[] = [];
        watcher.watch((set) => seen.push(set));
        const listening = async () =>
          (
            await b.sql<{ pid: number }>(
              "SELECT pid FROM pg_stat_activity WHERE application_name = ? AND query LIKE 'LISTEN%'",
              [app],
            )
          ).map((r) => r.pid);
        let pids: number[] = [];
        for (const t0 = Date.now(); pids.length === 0 && Date.now() - t0 < 5000; await sleep(50))
          pids = await listening();
        expect(pids).toHaveLength(1);
        await b.sql('SELECT pg_terminate_backend(?)', [pids[0]]);

        const writer = b.open();
        await writer.touch('after-loss');
        const took = await until(
          () => seen.includes('after-loss'),
          watcher.freshnessMs + 1000,
          'reported after the loss',
        );
        expect(took).toBeLessThanOrEqual(watcher.freshnessMs + 250);
        let again: number[] = [];
        for (const t0 = Date.now(); again.length === 0 && Date.now() - t0 < 5000; await sleep(50))
          again = await listening();
        expect(again).toHaveLength(1);
        expect(again[0]).not.toBe(pids[0]);
      } finally {
        await watcher.close();
      }
    });
});
