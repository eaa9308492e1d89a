// Routing of KeyManagerStrategy, as a table: every operation against an HSM that has the key,
// lacks it, or fails; Hydra's strategy test has 26 such cases, plus delete-nowhere = not found.
import { isNotFound, keyNotFound } from '../../lib/keys/errors';
import type { KeyManager } from '../../lib/keys/key-manager';
import { KeyManagerStrategy } from '../../lib/keys/strategy';

type Behaviour = 'has' | 'lacks' | 'fails';
const OPS = ['generateAndPersistKeySet', 'addKey', 'addKeySet', 'updateKey', 'updateKeySet', 'getKey', 'getKeySet', 'deleteKey', 'deleteKeySet', 'signer'] as const;
type Op = (typeof OPS)[number];

function fake(name: string, behaviour: Behaviour, calls: string[]): KeyManager {
  const handler = (op: string) => async () => {
    calls.push(`${name}.${op}`);
    if (behaviour === 'lacks') throw keyNotFound('set', 'kid');
    if (behaviour === 'fails') throw Object.assign(new Error(`${name} is down`), { code: 'ERR_PKCS11_DEVICE_ERROR' });
    return `${name}:${op}`;
  };
  return Object.fromEntries([...OPS, 'signJwt', 'list', 'close'].map((op) => [op, handler(op)])) as unknown as KeyManager;
}

async function run(op: Op, hsm: Behaviour, software: Behaviour) {
  const calls: string[] = [];
  const strategy = new KeyManagerStrategy(fake('hsm', hsm, calls), fake('software', software, calls));
  const args: Record<Op, unknown[]> = {
    generateAndPersistKeySet: ['set', undefined, 'ES256', 'sig'],
    addKey: ['set', {}],
    addKeySet: ['set', { keys: [] }],
    updateKey: ['set', {}],
    updateKeySet: ['set', { keys: [] }],
    getKey: ['set', 'kid'],
    getKeySet: ['set'],
    deleteKey: ['set', 'kid'],
    deleteKeySet: ['set'],
    signer: ['set'],
  };
  const call = (strategy[op] as (...a: unknown[]) => Promise<unknown>).bind(strategy);
  try {
    return { result: await call(...args[op]), calls };
  } catch (e) {
    return { error: isNotFound(e) ? 'not-found' : (e as Error).message, calls };
  }
}

const HSM_FIRST: Op[] = ['getKey', 'getKeySet', 'deleteKey', 'deleteKeySet', 'signer'];
const SOFTWARE_ONLY: Op[] = ['addKey', 'addKeySet', 'updateKey', 'updateKeySet'];

describe.each(HSM_FIRST)('%s: HSM first, software when the HSM has no such key', (op) => {
  test('HSM has it → HSM answers, software is not asked', async () => {
    expect(await run(op, 'has', 'has')).toEqual({ result: `hsm:${op}`, calls: [`hsm.${op}`] });
  });
  test('HSM lacks it → software answers', async () => {
    expect(await run(op, 'lacks', 'has')).toEqual({ result: `software:${op}`, calls: [`hsm.${op}`, `software.${op}`] });
  });
  test('neither has it → not found', async () => {
    expect(await run(op, 'lacks', 'lacks')).toEqual({ error: 'not-found', calls: [`hsm.${op}`, `software.${op}`] });
  });
  test('HSM fails → its error, software is not asked', async () => {
    expect(await run(op, 'fails', 'has')).toEqual({ error: 'hsm is down', calls: [`hsm.${op}`] });
  });
  test('HSM lacks it and software fails → the software error', async () => {
    expect(await run(op, 'lacks', 'fails')).toEqual({ error: 'software is down', calls: [`hsm.${op}`, `software.${op}`] });
  });
});

describe.each(SOFTWARE_ONLY)('%s: software only', (op) => {
  test('goes to software, never to the HSM', async () => {
    expect(await run(op, 'has', 'has')).toEqual({ result: `software:${op}`, calls: [`software.${op}`] });
  });
  test('a software failure is returned', async () => {
    expect(await run(op, 'has', 'fails')).toEqual({ error: 'software is down', calls: [`software.${op}`] });
  });
});

describe('generateAndPersistKeySet: HSM only', () => {
  test('goes to the HSM', async () => {
    expect(await run('generateAndPersistKeySet', 'has', 'has')).toEqual({ result: 'hsm:generateAndPersistKeySet', calls: ['hsm.generateAndPersistKeySet'] });
  });
  test('an HSM failure is returned, with no software fallback', async () => {
    expect(await run('generateAndPersistKeySet', 'fails', 'has')).toEqual({ error: 'hsm is down', calls: ['hsm.generateAndPersistKeySet'] });
  });
  test('even "not found" from the HSM does not fall back', async () => {
    expect(await run('generateAndPersistKeySet', 'lacks', 'has')).toEqual({ error: 'not-found', calls: ['hsm.generateAndPersistKeySet'] });
  });
});
