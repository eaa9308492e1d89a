// The CLI's redaction (lib/cli/redact.ts) and PKCS#11 URIs: a pin-value becomes ***, the rest of the
// URI (its `;token=` label included) stays readable; other text is redacted as before.
import { redactText } from '../../lib/cli/redact';

test('a pin-value is redacted, the token label is not', () => {
  expect(
    redactText('no token matches URI pkcs11:serial=abc;token=hydra?module-path=/m.so&pin-value=s3cr%20t&x=1, sorry'),
  ).toBe('no token matches URI pkcs11:serial=abc;token=hydra?module-path=/m.so&pin-value=***&x=1, sorry');
  expect(redactText('"pkcs11:token=a?pin-value=p1n-v4lue"')).toBe('"pkcs11:token=a?pin-value=***"');
  expect(redactText('pkcs11:model=SoftHSM%20v2;token=t;id=%01;object=o;type=private')).toBe(
    'pkcs11:model=SoftHSM%20v2;token=t;id=%01;object=o;type=private',
  );
  // the rest as before
  expect(redactText('postgres://u:pw@h/db?password=x pkcs11:token=a;x=1')).toBe(
    'postgres://u:***@h/db?password=*** pkcs11:token=a;x=1',
  );
  expect(redactText('a=b;token=secret')).toBe('a=b;token=***');
  expect(redactText('the query ?module-path=/m.so&pin-value=abcd')).toBe('the query ?module-path=/m.so&pin-value=***');
});
