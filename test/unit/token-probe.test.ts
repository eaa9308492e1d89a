// The token probe: a token is gone only when it keeps saying so. One CKR_TOKEN_NOT_PRESENT (SoftHSM
// answers that for a moment while another process rewrites the token's files) is asked again.
import type { NativeTokenInfo } from '../../binding';
import { CKR } from '../../lib/pkcs11/constants';
import { Pkcs11Error } from '../../lib/pkcs11/errors';
import { TokenProbe } from '../../lib/pkcs11/token-probe';

function target(answers: Array<'ok' | 'replaced' | number>) {
  const seen = { asked: 0, gone: [] as unknown[], answered: 0 };
  const probe = new TokenProbe({
    ask: async () => {
      const a = answers[Math.min(seen.asked++, answers.length - 1)]!;
      if (typeof a === 'number') throw new Pkcs11Error(a, 'C_GetTokenInfo');
      return { serialNumber: a === 'ok' ? 'serial-1' : 'serial-2' } as NativeTokenInfo;
    },
    serial: () => 'serial-1',
    mayAsk: () => seen.gone.length === 0,
    answered: () => {
      seen.answered++;
    },
    gone: (cause) => {
      seen.gone.push(cause);
    },
  });
  return { probe, seen };
}

const code = (e: unknown) => (typeof e === 'string' ? e : (e as { code?: string }).code);

test('one "not present" answer, then the token: not gone', async () => {
  const { probe, seen } = target([CKR.TOKEN_NOT_PRESENT, 'ok']);
  await probe.run(0, true);
  expect(seen).toEqual({ asked: 2, gone: [], answered: 1 });
});

test('"not present" twice in a row: gone, with that cause', async () => {
  const { probe, seen } = target([CKR.TOKEN_NOT_PRESENT, CKR.DEVICE_REMOVED]);
  await probe.run(0, true);
  expect(seen.asked).toBe(2);
  expect(seen.gone.map(code)).toEqual(['ERR_PKCS11_DEVICE_REMOVED']);
});

test('a failure that does not say gone: asked again after each wait, gone after the last', async () => {
  const { probe, seen } = target([CKR.GENERAL_ERROR]);
  await probe.run(0, true);
  expect(seen.asked).toBe(4);
  expect(seen.gone.map(code)).toEqual(['ERR_PKCS11_GENERAL_ERROR']);
});

test('another serial in the slot: replaced at once', async () => {
  const { probe, seen } = target(['replaced']);
  await probe.run(0, true);
  expect(seen).toEqual({ asked: 1, gone: ['ERR_TOKEN_REPLACED'], answered: 0 });
});
