// The addon in several JS environments at once: worker_threads load it, share the process-wide
// module registry (one C_Initialize), and sign concurrently with the main thread.
import { verify } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { ClosedError, ModuleLoadError, Pkcs11Module, type KeyPair, type Token } from '../../lib';
import { defaultDeepBind, nativeBinding } from '../../lib/pkcs11/native';
import { publicKeyObject } from '../helpers/keys';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';
import type { NativeModuleDescription } from '../../binding';

let mod: Pkcs11Module;
let token: Token;
let pair: KeyPair;

interface WorkerResult {
  verified?: number;
  description?: NativeModuleDescription;
  error?: { message: string };
}

function runWorker(count: number, closeAtEnd: boolean): Promise<WorkerResult> {
  const jwk = publicKeyObject(pair).export({ format: 'jwk' });
  const worker = new Worker(path.join(__dirname, '..', 'fixtures', 'sign-worker.js'), {
    workerData: { modulePath: SOFTHSM_MODULE, slot: token.slot, pin: USER_PIN, id: 'shared', jwk, count, closeAtEnd },
  });
  return new Promise((resolve, reject) => {
    let result: WorkerResult | undefined;
    worker.on('message', (m: WorkerResult) => (result = m));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker exited ${code}`))));
  });
}

beforeAll(async () => {
  softHsm().initToken('workers');
  mod = await Pkcs11Module.load(SOFTHSM_MODULE);
  token = await mod.openToken({ tokenLabel: 'workers' }, { pin: USER_PIN });
  pair = await token.generateKeyPair({ type: 'ec', curve: 'P-256' }, { label: 'w', id: Buffer.from('shared') });
});

afterAll(async () => {
  await mod?.close();
});

test('two worker_threads and the main thread sign concurrently; every signature verifies', async () => {
  const data = Buffer.from('main thread');
  const mainSigns = Promise.all(
    Array.from({ length: 300 }, () => token.sign(pair, { type: 'ECDSA', hash: 'SHA-256' }, data)),
  );
  const [a, b, sigs] = await Promise.all([runWorker(300, true), runWorker(300, true), mainSigns]);
  expect(a).toMatchObject({ verified: 300 });
  expect(b).toMatchObject({ verified: 300 });
  // The workers used the registry entry the main thread created: same path, one initialisation.
  const withoutCount = ({ references: _references, ...rest }: NativeModuleDescription) => rest;
  expect(withoutCount(a.description!)).toEqual(withoutCount(mod.describe()));
  // The main thread's two references: the Pkcs11Module's and its open Token's own.
  expect(mod.describe().references).toBe(2);
  for (const sig of sigs)
    expect(verify('sha256', data, { key: publicKeyObject(pair), dsaEncoding: 'ieee-p1363' }, sig)).toBe(true);
});

test('a worker that exits without close() releases its reference at teardown; the module stays usable', async () => {
  const result = await runWorker(5, false);
  expect(result).toMatchObject({ verified: 5 });
  expect(result.description).toMatchObject({ references: 3 });
  expect(mod.describe().references).toBe(2);
  const sig = await token.sign(pair, { type: 'ECDSA', hash: 'SHA-256' }, Buffer.from('after'));
  expect(verify('sha256', Buffer.from('after'), { key: publicKeyObject(pair), dsaEncoding: 'ieee-p1363' }, sig)).toBe(
    true,
  );
});

test('error classes are per environment: a worker gets plain errors raw, its own classes once it loads the package', async () => {
  const built = path.join(__dirname, '..', '..', 'dist', 'lib', 'pkcs11', 'native.js');
  if (!fs.existsSync(built))
    throw new Error('dist/lib is missing: run `npm run build` (npm test does) before this test');
  const worker = new Worker(path.join(__dirname, '..', 'fixtures', 'typed-errors-worker.js'), {
    workerData: { modulePath: SOFTHSM_MODULE },
  });
  const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.on('message', resolve);
    worker.on('error', reject);
  });
  await worker.terminate();
  expect(result).toEqual({
    // The main thread (this file) had set its classes already: the worker's environment has none.
    before: {
      load: { name: 'Error', code: undefined, reason: 'not-found', typed: undefined },
      closed: { name: 'Error', code: 'ERR_HSM_CLOSED', reason: undefined, typed: undefined },
    },
    after: {
      sameExports: true,
      load: {
        name: 'ModuleLoadError',
        code: 'ERR_MODULE_NOT_FOUND',
        reason: undefined,
        typed: true,
        isModuleLoadError: true,
      },
      closed: { name: 'ClosedError', code: 'ERR_CLOSED', reason: undefined, typed: true, isClosedError: true },
    },
  });
  // And the main thread still gets its own classes, not the worker's.
  await expect(nativeBinding().load('/nonexistent/libpkcs11.so')).rejects.toBeInstanceOf(ModuleLoadError);
  const closing = await nativeBinding().load(SOFTHSM_MODULE, { deepBind: defaultDeepBind() });
  await closing.close();
  expect(() => closing.getInfo()).toThrow(ClosedError);
});
