// PKCS#11 URIs (RFC 7512): every example URI of the RFC's §3, canonical formatting (p11tool's form),
// round trips, what a URI selects, where its module and PIN come from, and the URIs refused, by code.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import fc from 'fast-check';

import {
  formatPkcs11Uri,
  parsePkcs11Uri,
  toPkcs11Uri,
  URI_OBJECT_TYPES,
  uriForDisplay,
  type Pkcs11Uri,
} from '../../lib/pkcs11/uri';
import { keyPairQueryOf, matchesPlace, namesToken, type UriPlace } from '../../lib/pkcs11/uri-match';
import { moduleNameMatches, modulePathOf, pinSourceFile, readPinSource, uriPin } from '../../lib/pkcs11/uri-sources';
import { registerSecret } from '../helpers/secret-leak-recorder';

/** The example URIs of RFC 7512 §3, verbatim (the RFC breaks the longer ones over lines; joined here). */
const RFC_EXAMPLES: readonly string[] = [
  'pkcs11:',
  'pkcs11:object=my-pubkey;type=public',
  'pkcs11:object=my-key;type=private?pin-source=file:/etc/token',
  'pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;' +
    'manufacturer=Snake%20Oil,%20Inc.;' +
    'model=1.0;' +
    'object=my-certificate;' +
    'type=cert;' +
    'id=%69%95%3E%5C%F4%BD%EC%91;' +
    'serial=' +
    '?pin-source=file:/etc/token_pin',
  'pkcs11:object=my-sign-key;' + 'type=private' + '?module-name=mypkcs11',
  'pkcs11:object=my-sign-key;' + 'type=private' + '?module-path=/mnt/libmypkcs11.so.1',
  'pkcs11:token=Software%20PKCS%2311%20softtoken;' + 'manufacturer=Snake%20Oil,%20Inc.' + '?pin-value=the-pin',
  'pkcs11:slot-description=Sun%20Metaslot',
  'pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;' +
    'library-description=Soft%20Token%20Library;' +
    'library-version=1.23',
  'pkcs11:token=My%20token%25%20created%20by%20Joe;' + 'library-version=3;' + 'id=%01%02%03%Ba%dd%Ca%fe%04%05%06',
  'pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;' + 'object=my-certificate;' + 'type=cert',
  'pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;' + 'object=my-certificate;' + 'type=cert',
  'pkcs11:token=my-token;' +
    'object=my-certificate;' +
    'type=cert;' +
    'vendor-aaa=value-a' +
    '?pin-source=file:/etc/token_pin' +
    '&vendor-bbb=value-b',
];

const bytes = (...b: number[]) => Buffer.from(b);

/** What each example says, attribute by attribute. */
const RFC_PARSED: readonly Pkcs11Uri[] = [
  {},
  { object: 'my-pubkey', type: 'public' },
  { object: 'my-key', type: 'private', pinSource: 'file:/etc/token' },
  {
    token: 'The Software PKCS#11 Softtoken',
    manufacturer: 'Snake Oil, Inc.',
    model: '1.0',
    object: 'my-certificate',
    type: 'cert',
    id: bytes(0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91),
    serial: '',
    pinSource: 'file:/etc/token_pin',
  },
  { object: 'my-sign-key', type: 'private', moduleName: 'mypkcs11' },
  { object: 'my-sign-key', type: 'private', modulePath: '/mnt/libmypkcs11.so.1' },
  { token: 'Software PKCS#11 softtoken', manufacturer: 'Snake Oil, Inc.', pinValue: 'the-pin' },
  { slotDescription: 'Sun Metaslot' },
  {
    libraryManufacturer: 'Snake Oil, Inc.',
    libraryDescription: 'Soft Token Library',
    libraryVersion: { major: 1, minor: 23 },
  },
  {
    token: 'My token% created by Joe',
    libraryVersion: { major: 3, minor: 0 },
    id: bytes(1, 2, 3, 0xba, 0xdd, 0xca, 0xfe, 4, 5, 6),
  },
  { token: 'A name with a substring %;', object: 'my-certificate', type: 'cert' },
  { token: 'Name with a small A with acute: á', object: 'my-certificate', type: 'cert' },
  {
    token: 'my-token',
    object: 'my-certificate',
    type: 'cert',
    unknownPath: [['vendor-aaa', 'value-a']],
    pinSource: 'file:/etc/token_pin',
    unknownQuery: [['vendor-bbb', 'value-b']],
  },
];

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

test.each(RFC_EXAMPLES.map((uri, i) => [i + 1, uri, RFC_PARSED[i]!] as const))(
  'RFC 7512 §3 example %i parses: %s',
  (_n, uri, parsed) => {
    expect(parsePkcs11Uri(uri)).toEqual(parsed);
  },
);

test.each(RFC_EXAMPLES.map((uri) => [uri]))('RFC 7512 §3 example round-trips: %s', (uri) => {
  const parsed = parsePkcs11Uri(uri);
  const canonical = formatPkcs11Uri(parsed);
  expect(parsePkcs11Uri(canonical)).toEqual(parsed);
  expect(formatPkcs11Uri(parsePkcs11Uri(canonical))).toBe(canonical); // canonical is a fixed point
});

test("canonical form: p11tool's order and encoding (upper-case hex, only [A-Za-z0-9-._] verbatim, id wholly encoded)", () => {
  // As p11tool 3.7.9 printed a SoftHSM key whose token label and object label are full of reserved characters.
  const p11tool =
    'pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=27f38a8304e878e6;token=my%20tok%3B%25%2F%3F%26%3Dx%20%C3%A9;id=%01%AB%7F%20;object=lab%20el%3B%26%3F%2F%3D%3A%40%C3%A9;type=private';
  const parsed = parsePkcs11Uri(p11tool);
  expect(parsed).toEqual({
    model: 'SoftHSM v2',
    manufacturer: 'SoftHSM project',
    serial: '27f38a8304e878e6',
    token: 'my tok;%/?&=x é',
    id: bytes(0x01, 0xab, 0x7f, 0x20),
    object: 'lab el;&?/=:@é',
    type: 'private',
  });
  expect(formatPkcs11Uri(parsed)).toBe(p11tool);
  expect(formatPkcs11Uri({ object: "a~b-c_d.e!f$g'h(i)j*k+l,m[n]o", id: bytes(2) })).toBe(
    'pkcs11:id=%02;object=a%7Eb-c_d.e%21f%24g%27h%28i%29j%2Ak%2Bl%2Cm%5Bn%5Do',
  );
  // The RFC's examples, canonical.
  expect(formatPkcs11Uri(parsePkcs11Uri(RFC_EXAMPLES[3]!))).toBe(
    'pkcs11:model=1.0;manufacturer=Snake%20Oil%2C%20Inc.;serial=;token=The%20Software%20PKCS%2311%20Softtoken;id=%69%95%3E%5C%F4%BD%EC%91;object=my-certificate;type=cert?pin-source=file:/etc/token_pin',
  );
  expect(formatPkcs11Uri(parsePkcs11Uri(RFC_EXAMPLES[9]!))).toBe(
    'pkcs11:library-version=3.0;token=My%20token%25%20created%20by%20Joe;id=%01%02%03%BA%DD%CA%FE%04%05%06',
  );
  expect(formatPkcs11Uri({ slotId: 42n, modulePath: '/usr/lib/softhsm/libsofthsm2.so', pinValue: 'a&b c' })).toBe(
    'pkcs11:slot-id=42?pin-value=a%26b%20c&module-path=/usr/lib/softhsm/libsofthsm2.so',
  );
  // query: false drops the query (module, PIN); uriForDisplay too.
  expect(formatPkcs11Uri(parsePkcs11Uri(RFC_EXAMPLES[6]!), { query: false })).toBe(
    'pkcs11:manufacturer=Snake%20Oil%2C%20Inc.;token=Software%20PKCS%2311%20softtoken',
  );
  expect(uriForDisplay(RFC_EXAMPLES[6]!)).not.toContain('the-pin');
});

test('names and type values are matched case-insensitively, the scheme too; hex digits of either case', () => {
  expect(parsePkcs11Uri('PKCS11:Token=a;TYPE=Private;ID=%aB?Pin-Source=/p')).toEqual({
    token: 'a',
    type: 'private',
    id: bytes(0xab),
    pinSource: '/p',
  });
  // a vendor attribute keeps its case
  expect(parsePkcs11Uri('pkcs11:X-Vendor=1').unknownPath).toEqual([['X-Vendor', '1']]);
});

test('the query may hold "/", "?", "|" and "=" as they are; the path "&"', () => {
  expect(parsePkcs11Uri('pkcs11:object=a&b?pin-source=|/bin/pin?x=1&module-path=/a/b').object).toBe('a&b');
  expect(parsePkcs11Uri('pkcs11:object=a&b?pin-source=|/bin/pin?x=1&module-path=/a/b').pinSource).toBe('|/bin/pin?x=1');
  expect(parsePkcs11Uri('pkcs11:?').unknownQuery).toBeUndefined(); // an empty query
  expect(parsePkcs11Uri('pkcs11:id=')).toEqual({ id: bytes() });
  expect(parsePkcs11Uri('pkcs11:x-a=1?x-b=1&x-b=2')).toEqual({
    unknownPath: [['x-a', '1']],
    unknownQuery: [
      ['x-b', '1'],
      ['x-b', '2'],
    ],
  }); // vendor query attributes may repeat (RFC 7512 §2.3)
});

test.each(
  [
    ['', 'ERR_URI_INVALID'],
    ['token=a', 'ERR_URI_INVALID'], // no scheme
    ['pkcs12:token=a', 'ERR_URI_INVALID'],
    ['pkcs11:token', 'ERR_URI_INVALID'], // no =
    ['pkcs11:=a', 'ERR_URI_INVALID'],
    ['pkcs11:token=a;', 'ERR_URI_INVALID'], // an empty attribute
    ['pkcs11:;token=a', 'ERR_URI_INVALID'],
    ['pkcs11:token=a;;object=b', 'ERR_URI_INVALID'],
    ['pkcs11:token=a?&pin-value=1', 'ERR_URI_INVALID'],
    ['pkcs11:token=a b', 'ERR_URI_INVALID'], // a space must be encoded
    ['pkcs11:token=a/b', 'ERR_URI_INVALID'], // "/" is not a path character
    ['pkcs11:token=a#b', 'ERR_URI_INVALID'], // no fragment
    ['pkcs11:token=%zz', 'ERR_URI_INVALID'],
    ['pkcs11:token=%4', 'ERR_URI_INVALID'],
    ['pkcs11:token=%C3', 'ERR_URI_INVALID'], // not UTF-8
    ['pkcs11:token=%FF', 'ERR_URI_INVALID'],
    ['pkcs11:token=a;token=b', 'ERR_URI_INVALID'], // repeated path attribute
    ['pkcs11:token=a;TOKEN=a', 'ERR_URI_INVALID'],
    ['pkcs11:x-v=1;x-v=2', 'ERR_URI_INVALID'], // repeated vendor path attribute
    ['pkcs11:?module-path=/a&module-path=/b', 'ERR_URI_INVALID'], // repeated standard query attribute
    ['pkcs11:?pin-source=/a&pin-value=1', 'ERR_URI_INVALID'], // both PINs
    ['pkcs11:pin-value=1234', 'ERR_URI_INVALID'], // a query attribute in the path
    ['pkcs11:?token=a', 'ERR_URI_INVALID'], // a path attribute in the query
    ['pkcs11:type=key', 'ERR_URI_INVALID'],
    ['pkcs11:slot-id=-1', 'ERR_URI_INVALID'],
    ['pkcs11:slot-id=0x10', 'ERR_URI_INVALID'],
    ['pkcs11:slot-id=%31', 'ERR_URI_INVALID'], // 1*DIGIT, not encoded digits
    ['pkcs11:slot-id=18446744073709551616', 'ERR_URI_INVALID'], // 2^64
    ['pkcs11:slot-id=', 'ERR_URI_INVALID'],
    ['pkcs11:library-version=1.', 'ERR_URI_INVALID'],
    ['pkcs11:library-version=256', 'ERR_URI_INVALID'],
    ['pkcs11:library-version=v1', 'ERR_URI_INVALID'],
    ['pkcs11:ven%64or=1', 'ERR_URI_INVALID'], // names are not encoded
    ['pkcs11:x.y=1', 'ERR_URI_INVALID'],
    [`pkcs11:token=${'a'.repeat(70_000)}`, 'ERR_URI_INVALID'],
  ].map(([uri, code]) => [uri.length > 60 ? `${uri.slice(0, 20)}… (${uri.length} characters)` : uri, uri, code]),
)('refused: %s', (_shown, uri, code) => {
  expect(codeOf(() => parsePkcs11Uri(uri))).toBe(code);
});

test('pkcs11:slot-id=18446744073709551615 (2^64-1) is a slot id', () => {
  expect(parsePkcs11Uri('pkcs11:slot-id=18446744073709551615').slotId).toBe(2n ** 64n - 1n);
});

test('a pin-value is never in an error, whatever is wrong with the URI', () => {
  const pin = 'uri-unit-pin-86420';
  registerSecret('pin', 'a pin-value of test/unit/pkcs11-uri.test.ts', pin);
  for (const uri of [
    `pkcs11:token=a?pin-value=${pin} x`,
    `pkcs11:token=a?pin-value=${pin}%C3`,
    `pkcs11:token=a?pin-value=${pin}&pin-value=${pin}`,
    `pkcs11:token=a?pin-value=${pin}&pin-source=/x`,
    `pkcs11:pin-value=${pin}`,
    `pkcs11:${pin}`,
    `pkcs11:token=a;${pin}?pin-value=${pin}`,
  ]) {
    let error: unknown;
    try {
      parsePkcs11Uri(uri);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: 'ERR_URI_INVALID' });
    expect(JSON.stringify({ ...(error as object), message: (error as Error).message })).not.toContain(pin);
  }
  expect(() => formatPkcs11Uri({ pinValue: 42 as unknown as string })).toThrow(/received "a PIN"/);
});

test('formatPkcs11Uri refuses what no URI carries', () => {
  for (const bad of [
    { id: 'text' },
    { slotId: -1n },
    { slotId: 1.5 },
    { type: 'key' },
    { libraryVersion: { major: 1, minor: 256 } },
    { token: 1 },
    { pinValue: 'a', pinSource: '/b' },
    { unknownPath: [['token', 'a']] },
    { unknownQuery: [['a b', 'c']] },
  ]) {
    expect(codeOf(() => formatPkcs11Uri(bad as unknown as Pkcs11Uri))).toMatch(/^ERR_INVALID_ARG_(TYPE|VALUE)$/);
  }
  expect(toPkcs11Uri({ slotId: 3 as unknown as bigint })).toEqual({ slotId: 3n });
});

const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const arbitraryUri: fc.Arbitrary<Pkcs11Uri> = fc.record(
  {
    libraryManufacturer: text,
    libraryDescription: text,
    libraryVersion: fc.record({ major: fc.integer({ min: 0, max: 255 }), minor: fc.integer({ min: 0, max: 255 }) }),
    slotDescription: text,
    slotManufacturer: text,
    slotId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    token: text,
    manufacturer: text,
    serial: text,
    model: text,
    object: text,
    id: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
    type: fc.constantFrom(...URI_OBJECT_TYPES),
    moduleName: text,
    modulePath: text,
    pinValue: text,
    unknownPath: fc
      .array(fc.tuple(fc.stringMatching(/^x-[a-z0-9_-]{1,6}$/), text), { maxLength: 2 })
      .map((pairs) => [...new Map(pairs)]),
    unknownQuery: fc.array(fc.tuple(fc.stringMatching(/^x-[a-z0-9_-]{1,6}$/), text), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

test('parse(format(x)) is x, and format is a fixed point (fast-check)', () => {
  fc.assert(
    fc.property(arbitraryUri, (uri) => {
      const normal: Pkcs11Uri = {
        ...uri,
        ...(uri.unknownPath?.length === 0 ? { unknownPath: undefined } : {}),
        ...(uri.unknownQuery?.length === 0 ? { unknownQuery: undefined } : {}),
      };
      const expected = JSON.parse(JSON.stringify(normal, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)));
      const formatted = formatPkcs11Uri(uri);
      const parsed = parsePkcs11Uri(formatted);
      expect(JSON.parse(JSON.stringify(parsed, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)))).toEqual(expected);
      expect(formatPkcs11Uri(parsed)).toBe(formatted);
    }),
    { numRuns: 500 },
  );
});

const place: UriPlace = {
  module: {
    manufacturerID: 'SoftHSM',
    libraryDescription: 'Implementation of PKCS11',
    libraryVersion: { major: 2, minor: 6 },
  },
  slot: { slot: 7n, description: 'SoftHSM slot ID 0x7', manufacturerID: 'SoftHSM project' },
  token: { label: 'cli', manufacturerID: 'SoftHSM project', serialNumber: 'abc123', model: 'SoftHSM v2' },
};

test.each([
  ['pkcs11:', true],
  ['pkcs11:token=cli', true],
  ['pkcs11:token=cli%20%20', true], // blank padding is not part of a value
  ['pkcs11:token=cl', false],
  ['pkcs11:token=cli;serial=abc123;model=SoftHSM%20v2;manufacturer=SoftHSM%20project', true],
  ['pkcs11:token=cli;serial=other', false],
  ['pkcs11:serial=', false], // an empty value matches an empty field only
  ['pkcs11:slot-id=7', true],
  ['pkcs11:slot-id=8', false],
  ['pkcs11:slot-description=SoftHSM%20slot%20ID%200x7;slot-manufacturer=SoftHSM%20project', true],
  ['pkcs11:library-manufacturer=SoftHSM;library-version=2.6', true],
  ['pkcs11:library-version=2', false], // 2.0
  ['pkcs11:library-description=Other', false],
  ['pkcs11:token=cli;object=any;id=%01;type=cert', true], // object attributes do not select a token
  ['pkcs11:token=cli;x-vendor=1', false], // RFC 7512 §2.5: an unknown path attribute matches nothing
  ['pkcs11:token=cli?x-vendor=1&module-name=softhsm2', true], // unknown query attributes are ignored
])('%s selects the token: %s', (uri, matches) => {
  expect(matchesPlace(parsePkcs11Uri(uri), place)).toBe(matches);
});

test('library attributes need the library info; key queries; namesToken', () => {
  expect(matchesPlace(parsePkcs11Uri('pkcs11:library-version=2.6'), { slot: place.slot, token: place.token })).toBe(
    false,
  );
  expect(keyPairQueryOf(parsePkcs11Uri('pkcs11:object=set;id=%6B%31;type=private'))).toEqual({
    label: 'set',
    id: bytes(0x6b, 0x31),
  });
  expect(keyPairQueryOf(parsePkcs11Uri('pkcs11:object=set;type=public'))).toEqual({ label: 'set' });
  expect(keyPairQueryOf(parsePkcs11Uri('pkcs11:object=set;type=cert'))).toBeUndefined();
  expect(keyPairQueryOf(parsePkcs11Uri('pkcs11:object=set;x-a=b'))).toBeUndefined();
  expect(namesToken(parsePkcs11Uri('pkcs11:object=a?module-path=/m'))).toBe(false);
  expect(namesToken(parsePkcs11Uri('pkcs11:x-a=b'))).toBe(true);
  expect(namesToken(parsePkcs11Uri('pkcs11:slot-id=0'))).toBe(true);
});

describe('module and PIN sources', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-uri-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('module-name: lib<name>.so, <name>.so, with versions', () => {
    expect(moduleNameMatches('softhsm2', '/usr/lib/softhsm/libsofthsm2.so')).toBe(true);
    expect(moduleNameMatches('softhsm2', 'softhsm2.so.2')).toBe(true);
    expect(moduleNameMatches('SoftHSM2', 'libsofthsm2.so')).toBe(true);
    expect(moduleNameMatches('softhsm', 'libsofthsm2.so')).toBe(false);
    expect(moduleNameMatches('softhsm2', 'libsofthsm2.so.bak')).toBe(false);
  });

  test('module-path: a file, or a directory with module-name; relative paths and module-name alone are refused', () => {
    fs.writeFileSync(path.join(dir, 'libmypkcs11.so.1'), '');
    fs.writeFileSync(path.join(dir, 'libmypkcs11.so'), '');
    fs.writeFileSync(path.join(dir, 'libother.so'), '');
    expect(modulePathOf(parsePkcs11Uri('pkcs11:'))).toBeUndefined();
    expect(modulePathOf(parsePkcs11Uri(`pkcs11:?module-path=${dir}/libother.so`))).toBe(path.join(dir, 'libother.so'));
    expect(modulePathOf(parsePkcs11Uri(`pkcs11:?module-path=${dir}&module-name=mypkcs11`))).toBe(
      path.join(dir, 'libmypkcs11.so'),
    );
    expect(modulePathOf(parsePkcs11Uri('pkcs11:?module-path=/nowhere/libx.so'))).toBe('/nowhere/libx.so'); // loading says it is missing
    const code = (uri: string) => codeOf(() => modulePathOf(parsePkcs11Uri(uri)));
    expect(code('pkcs11:?module-name=mypkcs11')).toBe('ERR_URI_UNSUPPORTED');
    expect(code('pkcs11:?module-path=lib/libx.so')).toBe('ERR_URI_UNSUPPORTED');
    expect(code(`pkcs11:?module-path=${dir}`)).toBe('ERR_URI_UNSUPPORTED');
    expect(code(`pkcs11:?module-path=${dir}&module-name=absent`)).toBe('ERR_URI_UNSUPPORTED');
    expect(code(`pkcs11:?module-path=${dir}/libother.so&module-name=mypkcs11`)).toBe('ERR_URI_INVALID');
  });

  test('pin-source: a file: URI or an absolute path, read without its final newline; anything else is ERR_URI_PIN_SOURCE', async () => {
    const pin = 'uri-unit-pin-file-97531';
    registerSecret('pin', 'the pin-source PIN of test/unit/pkcs11-uri.test.ts', pin);
    const file = path.join(dir, 'pin');
    fs.writeFileSync(file, `${pin}\n`, { mode: 0o600 });
    for (const source of [`file:${file}`, `file://${file}`, `file://localhost${file}`, file])
      expect(pinSourceFile(source)).toBe(file);
    expect(await readPinSource(`file:${file}`)).toBe(pin);
    expect(await uriPin(parsePkcs11Uri(`pkcs11:?pin-source=file:${file}`))).toBe(pin);
    expect(await uriPin(parsePkcs11Uri('pkcs11:?pin-value=abc%20d'))).toBe('abc d');
    expect(await uriPin(parsePkcs11Uri('pkcs11:'))).toBeUndefined();
    for (const source of [
      '|/usr/bin/get-pin',
      'env:PIN',
      'https://example.com/pin',
      'pin.txt',
      'file:pin',
      'file://host/p',
    ])
      expect(codeOf(() => pinSourceFile(source))).toBe('ERR_URI_PIN_SOURCE');
    fs.writeFileSync(path.join(dir, 'empty'), '\n');
    for (const source of [path.join(dir, 'empty'), path.join(dir, 'absent'), dir]) {
      const error = await readPinSource(source).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_URI_PIN_SOURCE', attribute: 'pin-source' });
    }
  });
});
