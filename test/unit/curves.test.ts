// CKA_EC_PARAMS and CKA_EC_POINT in the encodings tokens actually use.
import { CURVES, curveFromParams, decodeEcPoint } from '../../lib/pkcs11/curves';

test('named-curve OIDs (RFC 5480 §2.1.1.1) and Ed25519 (RFC 8410 §3) map to curves', () => {
  expect(curveFromParams(Buffer.from('06082a8648ce3d030107', 'hex'))?.name).toBe('P-256');
  expect(curveFromParams(Buffer.from('06052b81040022', 'hex'))?.name).toBe('P-384');
  expect(curveFromParams(Buffer.from('06052b81040023', 'hex'))?.name).toBe('P-521');
  expect(curveFromParams(Buffer.from('06032b6570', 'hex'))?.name).toBe('Ed25519');
  // pkcs11-tool writes Ed25519 parameters as PrintableString "edwards25519"
  expect(curveFromParams(Buffer.concat([Buffer.from([0x13, 12]), Buffer.from('edwards25519')]))?.name).toBe('Ed25519');
  expect(curveFromParams(Buffer.from('06052b81040021', 'hex'))).toBeUndefined(); // P-224
});

test('EC points: DER OCTET STRING or raw, short and long DER lengths', () => {
  const p256 = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]);
  expect(decodeEcPoint(Buffer.concat([Buffer.from([4, 65]), p256]), CURVES['P-256'])).toEqual(p256);
  expect(decodeEcPoint(p256, CURVES['P-256'])).toEqual(p256);
  const p521 = Buffer.concat([Buffer.from([4]), Buffer.alloc(132, 9)]);
  expect(decodeEcPoint(Buffer.concat([Buffer.from([4, 0x81, 133]), p521]), CURVES['P-521'])).toEqual(p521);
  expect(decodeEcPoint(p521, CURVES['P-521'])).toEqual(p521);
  expect(decodeEcPoint(Buffer.alloc(65, 4), CURVES['P-384'])).toBeUndefined();
  expect(decodeEcPoint(Buffer.from([4, 65, 4]), CURVES['P-256'])).toBeUndefined();
});

test('Ed25519 points: DER-wrapped or the bare 32 bytes', () => {
  const x = Buffer.alloc(32, 0x42);
  expect(decodeEcPoint(Buffer.concat([Buffer.from([4, 32]), x]), CURVES.Ed25519)).toEqual(x);
  expect(decodeEcPoint(x, CURVES.Ed25519)).toEqual(x);
  expect(decodeEcPoint(Buffer.alloc(31), CURVES.Ed25519)).toBeUndefined();
});
