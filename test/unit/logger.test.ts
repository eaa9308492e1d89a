// createLogger: text lines (ISO time, level name, message, key=value) on a terminal, JSON lines
// (level by name, ISO time) otherwise, LOG_FORMAT's values, and the level filter.
import { createLogger, formatText } from '../../lib/logger';

function sink(isTTY: boolean) {
  const lines: string[] = [];
  return { lines, stream: { isTTY, write: (l: string) => lines.push(l) } };
}

test('text by default on a terminal: one readable line per message', () => {
  const { lines, stream } = sink(true);
  const log = createLogger('info', { stream });
  log.info('audit', { remote: '127.0.0.1', route: '/admin/keys/:set', set: 'a b', status: 201, kids: ['k1'] });
  log.debug('not shown');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}audit remote=127\.0\.0\.1 route=\/admin\/keys\/:set set="a b" status=201 kids=\["k1"\]\n$/,
  );
});

test('json by default elsewhere: the level by name, the time in ISO 8601, the fields at the top', () => {
  const { lines, stream } = sink(false);
  const log = createLogger('debug', { stream });
  log.warn('audit', { status: 401, code: 'ERR_UNAUTHORIZED' });
  log.debug('detail');
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(first).toEqual({
    level: 'warn',
    time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    msg: 'audit',
    status: 401,
    code: 'ERR_UNAUTHORIZED',
  });
  expect(second).toMatchObject({ level: 'debug', msg: 'detail' });
});

test('LOG_FORMAT wins over the terminal check; json_pretty indents', () => {
  const tty = sink(true);
  createLogger('info', { stream: tty.stream, format: 'json' }).info('m');
  expect(JSON.parse(tty.lines[0]!)).toMatchObject({ level: 'info', msg: 'm' });
  const pipe = sink(false);
  createLogger('info', { stream: pipe.stream, format: 'text' }).error('m', { a: 1 });
  expect(pipe.lines[0]).toMatch(/ ERROR m a=1\n$/);
  const pretty = sink(false);
  createLogger('info', { stream: pretty.stream, format: 'json_pretty' }).info('m');
  expect(pretty.lines[0]).toMatch(/^\{\n {2}"level": "info",\n/);
  expect(JSON.parse(pretty.lines[0]!)).toMatchObject({ msg: 'm' });
});

test('levels filter in both formats; silent logs nothing', () => {
  for (const format of ['text', 'json'] as const) {
    const { lines, stream } = sink(false);
    const log = createLogger('warn', { stream, format });
    log.info('no');
    log.warn('yes');
    log.error('yes');
    expect(lines).toHaveLength(2);
    const quiet = sink(false);
    createLogger('silent', { stream: quiet.stream, format }).error('no');
    expect(quiet.lines).toHaveLength(0);
  }
});

test('formatText: undefined fields are left out, errors show their message, odd strings are quoted', () => {
  const t = new Date('2026-11-29T12:00:00.000Z');
  expect(formatText('warn', 'm', { a: undefined, e: new Error('bad thing'), s: 'x=y"z', n: null }, t)).toBe(
    '2026-11-29T12:00:00.000Z WARN  m e="bad thing" s="x=y\\"z" n=null\n',
  );
});
