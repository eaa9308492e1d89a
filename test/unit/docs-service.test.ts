// docs/service.md and lib/server agree: the status table under "## Errors" gives each code the
// status toHttp answers it with, names every code that is not a plain 500, and the service's own
// codes have the status the service sends.
import { buildApps } from '../../lib/server/app';
import { toHttp } from '../../lib/server/http-errors';
import { ERROR_CODES } from '../../lib/errors';
import { silentLogger } from '../../lib/logger';
import { page, section, tableRows } from './docs-text';

const errors = section(page('docs/service.md').text, '## Errors');
const rows = tableRows(errors);
const codesIn = (cell: string) => [...cell.matchAll(/`(ERR_[A-Z0-9_]+)`/g)].map((m) => m[1]!);

/** The status table: `| 400 | `ERR_A`, `ERR_B` |`. */
const byStatus = rows
  .filter((cells) => /^\d{3}$/.test(cells[0]!))
  .map((cells) => ({ status: Number(cells[0]), codes: codesIn(cells[1]!) }));
/** The service's own codes: `| `ERR_X` | 401 | when |`. */
const own = rows
  .filter((cells) => /^`ERR_/.test(cells[0]!))
  .map((cells) => ({ code: codesIn(cells[0]!)[0]!, status: Number(cells[1]) }));

const statusOf = (code: string) => toHttp(Object.assign(new Error('described'), { code })).status;

test('the page has both tables', () => {
  expect(byStatus.map((r) => r.status)).toEqual(expect.arrayContaining([400, 404, 409, 503]));
  expect(own.map((r) => r.code).sort()).toEqual([
    'ERR_HOST_NOT_ALLOWED',
    'ERR_JSON_TOO_DEEP',
    'ERR_JWT_CLAIM_INVALID',
    'ERR_REQUEST_INVALID',
    'ERR_REQUEST_TIMEOUT',
    'ERR_ROUTE_NOT_FOUND',
    'ERR_UNAUTHORIZED',
  ]);
});

test('each code in the status table is answered with that status', () => {
  const wrong = byStatus.flatMap(({ status, codes }) =>
    codes
      .filter((code) => statusOf(code) !== status)
      .map((code) => `${code}: documented ${status}, answered ${statusOf(code)}`),
  );
  expect(wrong).toEqual([]);
});

test("every code answered with another status than 500 is in the status table (or is the service's own)", () => {
  const listed = new Set([...byStatus.flatMap((r) => r.codes), ...own.map((r) => r.code)]);
  const missing = ERROR_CODES.filter((code) => statusOf(code) !== 500 && !listed.has(code)).map(
    (code) => `${code} (${statusOf(code)})`,
  );
  expect(missing).toEqual([]);
});

test('ERR_REQUEST_INVALID: a body the schema refuses', () => {
  const answer = toHttp(Object.assign(new Error('body must have required property'), { validation: [{}] }));
  expect({ status: answer.status, code: answer.body.error_code }).toEqual({
    status: own.find((r) => r.code === 'ERR_REQUEST_INVALID')!.status,
    code: 'ERR_REQUEST_INVALID',
  });
});

test('ERR_UNAUTHORIZED: an admin route without the Bearer token, over HTTP on loopback', async () => {
  // A key manager that is never reached: the Bearer check answers first.
  const km = new Proxy({}, { get: () => () => () => undefined }) as never;
  const apps = buildApps({
    km,
    publicSets: [],
    adminToken: 'docs-test-admin-token-0123',
    logger: silentLogger,
    onePort: true,
  } as never);
  try {
    await apps.admin.listen({ host: '127.0.0.1', port: 0 });
    const { port } = apps.admin.server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}/admin/keys/some-set`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { error_code?: string };
    expect({ status: res.status, code: body.error_code }).toEqual({
      status: own.find((r) => r.code === 'ERR_UNAUTHORIZED')!.status,
      code: 'ERR_UNAUTHORIZED',
    });
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  } finally {
    await apps.admin.close();
  }
});
