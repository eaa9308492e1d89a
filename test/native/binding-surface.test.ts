// binding.d.ts must declare exactly what the loaded addon exports, and the TS constant tables must
// be what scripts/gen-constants.js derives from native/cryptoki_constants.h. The object calls added
// for data objects (createObject, setAttributes) are checked here against SoftHSM2 too.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

import { HsmJwksError } from '../../lib/errors';
import { ModuleReinitializedError, Pkcs11Error, SessionBusyError } from '../../lib/pkcs11/errors';
import { defaultDeepBind, nativeBinding } from '../../lib/pkcs11/native';
import type { NativeModule, NativeTemplate } from '../../binding';
import { SOFTHSM_MODULE, softHsm, USER_PIN } from '../helpers/softhsm';

const root = path.join(__dirname, '..', '..');

function declaredSurface(): { functions: string[]; classes: Map<string, string[]> } {
  const file = path.join(root, 'binding.d.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const functions: string[] = [];
  const classes = new Map<string, string[]>();
  for (const stmt of source.statements) {
    const exported =
      ts.canHaveModifiers(stmt) && ts.getModifiers(stmt)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    if (ts.isFunctionDeclaration(stmt) && stmt.name) functions.push(stmt.name.text);
    if (ts.isClassDeclaration(stmt) && stmt.name) {
      const methods = stmt.members.filter(ts.isMethodDeclaration).map((m) => (m.name as ts.Identifier).text);
      classes.set(stmt.name.text, methods);
    }
    if (ts.isVariableStatement(stmt)) throw new Error('binding.d.ts declares a variable: check it here too');
  }
  return { functions, classes };
}

test('the loaded addon exports exactly what binding.d.ts declares', () => {
  const addon = nativeBinding() as unknown as Record<string, unknown>;
  const { functions, classes } = declaredSurface();
  expect(Object.keys(addon).sort()).toEqual([...functions, ...classes.keys()].sort());
  for (const name of functions) expect(typeof addon[name]).toBe('function');
  for (const [name, methods] of classes) {
    const proto = (addon[name] as { prototype: object }).prototype;
    const actual = Object.getOwnPropertyNames(proto).filter((m) => m !== 'constructor');
    expect({ name, methods: actual.sort() }).toEqual({ name, methods: [...methods].sort() });
    for (const m of actual) expect(typeof (proto as Record<string, unknown>)[m]).toBe('function');
  }
});

test('setErrorClasses wants every class: a missing one is a TypeError, and the classes in place stay', async () => {
  const addon = nativeBinding();
  expect(() => addon.setErrorClasses(undefined as never)).toThrow(
    expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' }),
  );
  expect(() => addon.setErrorClasses({ Pkcs11Error } as never)).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: 'classes.ClosedError must be a function' }),
  );
  // Still this package's classes: a load failure is a ModuleLoadError (an HsmJwksError).
  const e = await addon.load('/nonexistent/libpkcs11.so').catch((x: unknown) => x);
  expect(e).toBeInstanceOf(HsmJwksError);
  expect(e).toMatchObject({ name: 'ModuleLoadError', code: 'ERR_MODULE_NOT_FOUND', path: '/nonexistent/libpkcs11.so' });
});

test('binding.d.ts declares nothing as any', () => {
  const text = fs.readFileSync(path.join(root, 'binding.d.ts'), 'utf8');
  expect(text).not.toMatch(/(:|<|\|)\s*any\b/);
});

test('lib/pkcs11/constants.ts is generated from native/cryptoki_constants.h and up to date', () => {
  const { generate, outPath } = require(path.join(root, 'scripts', 'gen-constants.js')) as {
    generate(): string;
    outPath: string;
  };
  expect(fs.readFileSync(outPath, 'utf8')).toBe(generate());
});

test('the codec table has what data objects and mechanism pins need, with the kinds the specification gives', () => {
  const { CKA_KIND } = require(
    path.join(root, 'lib', 'pkcs11', 'constants'),
  ) as typeof import('../../lib/pkcs11/constants');
  expect({
    APPLICATION: CKA_KIND.APPLICATION,
    VALUE: CKA_KIND.VALUE,
    OBJECT_ID: CKA_KIND.OBJECT_ID,
    ALLOWED_MECHANISMS: CKA_KIND.ALLOWED_MECHANISMS,
    MODIFIABLE: CKA_KIND.MODIFIABLE,
    DESTROYABLE: CKA_KIND.DESTROYABLE,
    COPYABLE: CKA_KIND.COPYABLE,
  }).toEqual({
    APPLICATION: 'utf8',
    VALUE: 'bytes',
    OBJECT_ID: 'bytes',
    ALLOWED_MECHANISMS: 'ulong_array',
    MODIFIABLE: 'bool',
    DESTROYABLE: 'bool',
    COPYABLE: 'bool',
  });
});

describe('createObject and setAttributes (SoftHSM2)', () => {
  const { CKA, CKF_SESSION, CKO, CKU } = require(
    path.join(root, 'lib', 'pkcs11', 'constants'),
  ) as typeof import('../../lib/pkcs11/constants');
  let native: NativeModule;
  let session: bigint;

  beforeAll(async () => {
    softHsm().initToken('surface');
    native = await nativeBinding().load(SOFTHSM_MODULE, { deepBind: defaultDeepBind() });
    const slot = (await native.getSlots(true)).find((s) => s.token?.label === 'surface')!.slot;
    session = await native.openSession(slot, CKF_SESSION.RW_SESSION);
    await native.login(session, CKU.USER, Buffer.from(USER_PIN));
  });
  afterAll(async () => {
    await native?.close();
  });

  const template = (): NativeTemplate => [
    [CKA.CLASS, CKO.DATA],
    [CKA.TOKEN, true],
    [CKA.PRIVATE, true],
    [CKA.MODIFIABLE, true],
    [CKA.DESTROYABLE, true],
    [CKA.COPYABLE, false],
    [CKA.LABEL, 'surface'],
    [CKA.APPLICATION, 'hsm-jwks/surface ✓'],
    [CKA.OBJECT_ID, Buffer.from('06032a0304', 'hex')],
    [CKA.VALUE, Buffer.from([0, 1, 2, 255])],
  ];

  test('a template round-trips through the codec: each value comes back as its kind', async () => {
    const handle = await native.createObject(session, template());
    expect(typeof handle).toBe('bigint');
    const read = await native.getAttributes(
      session,
      handle,
      template().map(([t]) => t),
    );
    expect(read.map((r) => ('value' in r ? r.value : r.absent))).toEqual(template().map(([, v]) => v));
    await expect(native.setAttributes(session, handle, [[CKA.LABEL, 'renamed']])).resolves.toBeUndefined();
    expect(await native.getAttributes(session, handle, [CKA.LABEL])).toEqual([{ type: CKA.LABEL, value: 'renamed' }]);
    await native.destroyObject(session, handle);
  });

  test('getAttributesMany: many objects in one call, null for one destroyed since it was found', async () => {
    const a = await native.createObject(session, template());
    const b = await native.createObject(session, [
      [CKA.CLASS, CKO.DATA],
      [CKA.TOKEN, false],
      [CKA.LABEL, 'second'],
    ]);
    const gone = await native.createObject(session, [
      [CKA.CLASS, CKO.DATA],
      [CKA.TOKEN, false],
      [CKA.LABEL, 'gone'],
    ]);
    await native.destroyObject(session, gone);
    const read = await native.getAttributesMany(session, [a, gone, b], [CKA.LABEL, CKA.CLASS]);
    expect(read).toEqual([
      [
        { type: CKA.LABEL, value: 'surface' },
        { type: CKA.CLASS, value: CKO.DATA },
      ],
      null,
      [
        { type: CKA.LABEL, value: 'second' },
        { type: CKA.CLASS, value: CKO.DATA },
      ],
    ]);
    expect(await native.getAttributesMany(session, [], [CKA.LABEL])).toEqual([]);
    await expect(
      native
        .getAttributesMany(session, [a], [CKA.LABEL])
        .then(() => native.getAttributesMany(session, 'x' as never, [])),
    ).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await native.destroyObject(session, a);
    await native.destroyObject(session, b);
  });

  test('failures are Pkcs11Errors (the class lib/ handed over at load) carrying rv, ckr and fn', async () => {
    const stray = () =>
      native.findObjects(
        session,
        [
          [CKA.CLASS, CKO.DATA],
          [CKA.TOKEN, false],
          [CKA.LABEL, ''],
        ],
        10,
      );
    expect(await stray()).toEqual([]);
    const refused = await native
      .createObject(session, [
        [CKA.CLASS, CKO.DATA],
        [CKA.TOKEN, true],
        [CKA.KEY_TYPE, 0],
      ])
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Pkcs11Error);
    expect(refused).toMatchObject({
      code: 'ERR_PKCS11_ATTRIBUTE_TYPE_INVALID',
      ckr: 'CKR_ATTRIBUTE_TYPE_INVALID',
      fn: 'C_CreateObject',
      rv: 0x12,
      category: 'bad-input',
    });
    // SoftHSM 2.6.1 quirk (docs/vendors.md): the refused object stays, blank (no label, CKA_TOKEN
    // false), in the token's store. findDataObjects never sees it (it asks for token objects of an application).
    expect(await stray()).toHaveLength(1);
    await expect(native.setAttributes(session, 0x7fff_fff0n, [[CKA.LABEL, 'x']])).rejects.toMatchObject({
      ckr: 'CKR_OBJECT_HANDLE_INVALID',
      fn: 'C_SetAttributeValue',
    });
  });

  test('templates and handles are checked on the JS thread, before anything is queued', () => {
    // Made by lib/errors.ts argTypeError/argValueError, in this realm.
    const typeError = expect.objectContaining({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    const rangeError = expect.objectContaining({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(() => native.createObject(session, 'x' as never)).toThrow(TypeError);
    expect(() => native.createObject(session, [[0x7fff_0001, Buffer.alloc(1)]])).toThrow(rangeError); // not in the codec table
    expect(() => native.createObject(session, [[CKA.VALUE, 'text']] as never)).toThrow(typeError);
    expect(() => native.createObject(session, [[CKA.ALLOWED_MECHANISMS, [1, 'x']]] as never)).toThrow(typeError);
    expect(() => native.setAttributes(session, 1 as never, [[CKA.LABEL, 'x']])).toThrow(typeError);
    expect(() => native.setAttributes(session, 1n, [[CKA.MODIFIABLE, 1]] as never)).toThrow(typeError);
  });

  test('one operation per session: a second one on a busy session is refused at once', async () => {
    const first = native.createObject(session, template());
    expect(() => native.setAttributes(session, 1n, [[CKA.LABEL, 'x']])).toThrow(SessionBusyError);
    expect(() => native.createObject(session, template())).toThrow(
      expect.objectContaining({ code: 'ERR_SESSION_BUSY' }),
    );
    await native.destroyObject(session, await first);
  });

  test('after a re-initialisation, handles of the old generation never reach the module', async () => {
    const handle = await native.createObject(session, template());
    await native.reinitialize();
    await expect(native.createObject(session, template())).rejects.toBeInstanceOf(ModuleReinitializedError);
    await expect(native.setAttributes(session, handle, [[CKA.LABEL, 'x']])).rejects.toMatchObject({
      code: 'ERR_MODULE_REINITIALIZED',
    });
    const fresh = await native.share();
    try {
      const s = await fresh.openSession(
        (await fresh.getSlots(true)).find((x) => x.token?.label === 'surface')!.slot,
        CKF_SESSION.RW_SESSION,
      );
      await fresh.login(s, CKU.USER, Buffer.from(USER_PIN));
      const [found] = await fresh.findObjects(
        s,
        [
          [CKA.CLASS, CKO.DATA],
          [CKA.LABEL, 'surface'],
        ],
        10,
      );
      await fresh.destroyObject(s, found!);
      expect(
        await fresh.findObjects(
          s,
          [
            [CKA.CLASS, CKO.DATA],
            [CKA.LABEL, 'surface'],
          ],
          10,
        ),
      ).toEqual([]);
    } finally {
      await fresh.close();
    }
  });
});
