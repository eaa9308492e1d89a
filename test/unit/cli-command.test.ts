// Repair hints are command lines to paste: quoted where the shell needs it, and with `--` before
// the arguments when one begins with "-" (a thumbprint kid does one time in 64).
import { cliCommand } from '../../lib/keys/names';
import { parseCommandLine } from '../../lib/cli/spec';

test('plain arguments as they are; "-" first gets "--"; others quoted for the shell', () => {
  expect(cliCommand('keys delete', ['set', 'kid-1'])).toBe('hsm-jwks keys delete set kid-1');
  expect(cliCommand('keys delete', ['set', '-haqLGNep'])).toBe('hsm-jwks keys delete -- set -haqLGNep');
  expect(cliCommand('keys delete', ['my set', "it's"])).toBe(`hsm-jwks keys delete 'my set' 'it'\\''s'`);
  expect(cliCommand('keys cert import', ['s', 'k'], '<chain.pem>')).toBe('hsm-jwks keys cert import s k <chain.pem>');
});

test('the parser takes what "--" protects as arguments', () => {
  const inv = parseCommandLine(['keys', 'delete', '--', 'set', '-haqLGNep']);
  expect(inv).toMatchObject({ kind: 'run', args: { set: 'set', kid: '-haqLGNep' } });
});
