// The session pool against fake open/close functions: exclusivity, FIFO waiting, timeouts,
// eviction of broken sessions and draining on close.
import { ClosedError, Pkcs11Error, PoolTimeoutError } from '../../lib/pkcs11/errors';
import { SessionPool } from '../../lib/pkcs11/session-pool';

function fakePool(size: number, waitTimeoutMs = 1000) {
  let next = 1n;
  const opened: bigint[] = [];
  const closed: bigint[] = [];
  const pool = new SessionPool({
    size,
    waitTimeoutMs,
    open: async () => {
      const s = next++;
      opened.push(s);
      return s;
    },
    close: async (s) => {
      closed.push(s);
    },
  });
  return { pool, opened, closed };
}

const tick = () => new Promise((r) => setImmediate(r));

test('never lends one session to two operations at once, and opens at most `size`', async () => {
  const { pool, opened } = fakePool(3);
  const inUse = new Set<bigint>();
  let peak = 0;
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      pool.use(async (s) => {
        expect(inUse.has(s)).toBe(false);
        inUse.add(s);
        peak = Math.max(peak, inUse.size);
        await new Promise((r) => setTimeout(r, i % 3));
        inUse.delete(s);
      }),
    ),
  );
  expect(opened).toHaveLength(3);
  expect(peak).toBe(3);
  expect(pool.stats()).toMatchObject({ open: 3, idle: 3, inUse: 0, waiting: 0 });
});

test('waiters are served in order and time out with ERR_POOL_TIMEOUT', async () => {
  const { pool } = fakePool(1, 20);
  let release!: () => void;
  const holder = pool.use(() => new Promise<void>((r) => (release = r)));
  await tick();
  const order: number[] = [];
  const timedOut = pool.use(async () => order.push(0)).catch((e: unknown) => e);
  expect(pool.stats().waiting).toBe(1);
  expect(await timedOut).toBeInstanceOf(PoolTimeoutError);
  expect(await timedOut).toMatchObject({ code: 'ERR_POOL_TIMEOUT' });
  const a = pool.use(async () => order.push(1));
  const b = pool.use(async () => order.push(2));
  release();
  await Promise.all([holder, a, b]);
  expect(order).toEqual([1, 2]);
});

test('a session that reports itself lost is closed and replaced, not lent again', async () => {
  const { pool, opened, closed } = fakePool(1);
  const lost = new Pkcs11Error(0xb3, 'C_Sign'); // CKR_SESSION_HANDLE_INVALID
  await expect(pool.use(async () => Promise.reject(lost))).rejects.toBe(lost);
  expect(closed).toEqual([1n]);
  expect(pool.stats()).toMatchObject({ evicted: 1, open: 0 });
  await pool.use(async (s) => expect(s).toBe(2n));
  expect(opened).toEqual([1n, 2n]);
  // An error about the request (not the session) keeps the session.
  await expect(pool.use(async () => Promise.reject(new Pkcs11Error(0x70, 'C_SignInit')))).rejects.toMatchObject({
    category: 'bad-input',
  });
  expect(pool.stats()).toMatchObject({ evicted: 1, open: 1, idle: 1 });
});

test('a waiter gets a fresh session when the one it waited for is evicted', async () => {
  const { pool, opened } = fakePool(1);
  let fail!: () => void;
  const first = pool.use(
    () => new Promise<void>((_, reject) => (fail = () => reject(new Pkcs11Error(0xb0, 'C_Sign')))),
  );
  await tick();
  const second = pool.use(async (s) => s);
  fail();
  await expect(first).rejects.toMatchObject({ code: 'ERR_PKCS11_SESSION_CLOSED' });
  expect(await second).toBe(2n);
  expect(opened).toEqual([1n, 2n]);
});

test('close() waits for operations in flight, fails waiters, closes every session', async () => {
  const { pool, closed } = fakePool(1);
  let release!: () => void;
  const running = pool.use(() => new Promise<string>((r) => (release = () => r('done'))));
  await tick();
  const waiting = pool.use(async () => 'never').catch((e: unknown) => e);
  const closing = pool.close();
  expect(await waiting).toBeInstanceOf(ClosedError);
  expect(closed).toEqual([]);
  release();
  await closing;
  expect(await running).toBe('done');
  expect(closed).toEqual([1n]);
  await expect(pool.use(async () => 1)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
});

test('a failure to open a session reaches the caller and frees the slot', async () => {
  let attempts = 0;
  const pool = new SessionPool({
    size: 1,
    waitTimeoutMs: 100,
    open: async () => {
      attempts++;
      if (attempts === 1) throw new Pkcs11Error(0xb1, 'C_OpenSession'); // CKR_SESSION_COUNT
      return 7n;
    },
    close: async () => undefined,
  });
  await expect(pool.use(async () => 1)).rejects.toMatchObject({ code: 'ERR_PKCS11_SESSION_COUNT' });
  expect(await pool.use(async (s) => s)).toBe(7n);
});
