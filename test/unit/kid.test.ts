// kid <-> CKA_ID is a bijection (lib/jose/kid.ts): every byte string a token may hold has exactly
// one kid and back, a kid that would not round-trip is refused with ERR_KID_INVALID, and no second
// spelling names the same bytes (the aliases found by the issue: hex of a text kid, "a b" vs "612062").
import fc from 'fast-check';

import { HEX_KID_PREFIX, idFromKid, kidFromId } from '../../lib/jose/kid';

const refused = (kid: unknown) => {
  expect(() => idFromKid(kid)).toThrow(expect.objectContaining({ code: 'ERR_KID_INVALID' }));
};

test('text ids are their text; other ids are "hex:" and lowercase hex', () => {
  expect(kidFromId(Buffer.from('746573742d6b65792d6964', 'hex'))).toBe('test-key-id'); // Hydra's guide: pkcs11-tool --id
  expect(kidFromId(Buffer.from([0x01, 0xab]))).toBe('hex:01ab');
  expect(kidFromId(Buffer.from('a b'))).toBe('a b');
  expect(kidFromId(Buffer.from('612062'))).toBe('612062');
  expect(kidFromId(Buffer.from('ps 384'))).toBe('ps 384');
  expect(kidFromId(Buffer.from('ключ-1 🔑'))).toBe('ключ-1 🔑');
  expect(kidFromId(Buffer.from('hex:ab'))).toBe(`hex:${Buffer.from('hex:ab').toString('hex')}`);
  expect(kidFromId(Buffer.from(' lead'))).toBe(`hex:${Buffer.from(' lead').toString('hex')}`);
  expect(kidFromId(Buffer.from('zero\u200bwidth'))).toMatch(/^hex:/);
  expect(kidFromId(Buffer.from([0xc3, 0x28]))).toBe('hex:c328'); // not UTF-8
  expect(kidFromId(Buffer.from('\u00adk1'))).toBe(`hex:${Buffer.from('\u00adk1').toString('hex')}`); // soft hyphen: not text
  expect(kidFromId(Buffer.from('e\u0301'))).toMatch(/^hex:/); // NFD: not text
});

test('each kid names exactly one id: no second spelling finds a key', () => {
  expect(idFromKid('test-key-id')).toEqual(Buffer.from('test-key-id'));
  expect(idFromKid('6f6c646572')).toEqual(Buffer.from('6f6c646572')); // the hex of "older" names the text "6f6c646572", not "older"
  expect(idFromKid('612062')).not.toEqual(idFromKid('a b'));
  expect(idFromKid('hex:01ab')).toEqual(Buffer.from([0x01, 0xab]));
  refused(`${HEX_KID_PREFIX}6f6c646572`); // the hex of a text id: that id's kid is "older"
  refused('hex:01AB'); // uppercase: not the one spelling
  refused('hex:1'); // half a byte
  refused('hex:');
  refused('');
  refused(' padded');
  refused('tab\there');
  refused('bidi\u202eoverride');
  refused('nbsp\u00a0space');
  refused('lone \ud800 surrogate');
  // Look-alikes: each of these would show as a kid already in use.
  for (const hidden of ['\u00ad', '\u034f', '\u115f', '\u3164', '\ufe0f', '\uffff', '\ufdd0', '\ufffd', '\u{e0041}'])
    refused(`k1${hidden}`);
  refused('e\u0301'); // NFD of "é"
  expect(idFromKid('\u00e9')).toEqual(Buffer.from('é')); // NFC
  refused('x'.repeat(256));
  refused(42);
});

test('property: bytes -> kid -> bytes is the identity', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 255 }), (bytes) => {
      expect(idFromKid(kidFromId(bytes)).equals(Buffer.from(bytes))).toBe(true);
    }),
    { numRuns: 2000 },
  );
});

test('property: every accepted kid maps back to itself, and text bytes map to their text', () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.fullUnicodeString({ minLength: 1, maxLength: 40 }),
        fc.hexaString({ minLength: 1, maxLength: 20 }).map((h) => `hex:${h}`),
      ),
      (kid) => {
        let id: Buffer;
        try {
          id = idFromKid(kid);
        } catch (e) {
          expect((e as { code?: string }).code).toBe('ERR_KID_INVALID');
          return;
        }
        expect(kidFromId(id)).toBe(kid);
      },
    ),
    { numRuns: 3000 },
  );
});
