// Benchmark figures are kept as files, never pasted: bench/report.js keep() writes a page with the
// command line, date and machine in its header (what `npm run bench -- --out docs/benchmarks/….md`
// and the network and readiness benches do), and docs/performance.md points at the pages instead
// of holding report tables. Nothing here runs a benchmark.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { page, root } from './docs-text';

// bench/ is plain CommonJS, without types.
const report = require('../../bench/report') as {
  keep(o: {
    out?: string;
    name: string;
    title: string;
    markdown: string;
    json: unknown;
    argv?: string[];
    date?: Date;
    results?: string;
  }): { markdown: string; json: string };
  commandLine(argv: string[]): string;
};
const network = require('../../bench/network') as { options(argv: string[]): { out?: string } };

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-docs-bench-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const argv = [process.execPath, path.join(process.cwd(), 'bench', 'run.js'), '--keys', 'p-256', '--out', 'x.md'];
const date = new Date('2026-11-29T12:00:00.000Z');

test('--out FILE.md: the page gets a header (title, command line, date, machine), then the report; the JSON goes to the results directory', () => {
  const out = path.join(dir, 'docs', 'benchmarks', 'softhsm.md');
  const results = path.join(dir, 'results');
  const written = report.keep({
    out,
    name: 'bench',
    title: 'Signing benchmark: SoftHSM2',
    markdown: '| a | b |\n',
    json: { rate: 1 },
    argv,
    date,
    results,
  });
  expect(written.markdown).toBe(out);
  const text = fs.readFileSync(out, 'utf8');
  const lines = text.split('\n');
  expect(lines[0]).toBe('# Signing benchmark: SoftHSM2');
  expect(text).toContain('`node bench/run.js --keys p-256 --out x.md`');
  expect(text).toContain('2026-11-29T12:00:00.000Z');
  expect(text).toContain(`Machine: ${os.cpus().length} cores, `);
  expect(text).toContain(`Node ${process.version}.`);
  expect(text.endsWith('\n| a | b |\n')).toBe(true);
  expect(path.dirname(written.json)).toBe(results);
  expect(JSON.parse(fs.readFileSync(written.json, 'utf8'))).toEqual({ rate: 1 });
});

test('--out DIR: the report and the JSON, named by the time, without a header (as before)', () => {
  const written = report.keep({
    out: dir,
    name: 'network',
    title: 'unused',
    markdown: 'report\n',
    json: [],
    argv,
    date,
  });
  expect(path.basename(written.markdown)).toBe('network-2026-11-29T12-00-00-000Z.md');
  expect(fs.readFileSync(written.markdown, 'utf8')).toBe('report\n');
  expect(path.basename(written.json)).toBe('network-2026-11-29T12-00-00-000Z.json');
});

test('the command line is quoted so it can be run again', () => {
  expect(
    report.commandLine([
      process.execPath,
      path.join(process.cwd(), 'bench', 'network.js'),
      '--profiles',
      '2/32',
      '--note',
      "it's",
    ]),
  ).toBe("node bench/network.js --profiles 2/32 --note 'it'\\''s'");
});

test('the benches take --out as given (a page or a directory), and hand it to keep()', () => {
  expect(network.options(['--out', 'docs/benchmarks/network.md']).out).toBe('docs/benchmarks/network.md');
  for (const file of ['run.js', 'network.js', 'readiness.js']) {
    const source = fs.readFileSync(path.join(root, 'bench', file), 'utf8');
    expect({ file, keeps: /\bkeep\(\{\s*out: o\.out,/.test(source) }).toEqual({ file, keeps: true });
  }
});

test('docs/performance.md links every kept report and holds no report table of its own', () => {
  const perf = page('docs/performance.md').text;
  const kept = fs.readdirSync(path.join(root, 'docs', 'benchmarks')).filter((f) => f.endsWith('.md'));
  expect(kept).toEqual(expect.arrayContaining(['softhsm.md', 'network.md', 'readiness.md']));
  expect(kept.filter((f) => !perf.includes(`(benchmarks/${f})`))).toEqual([]);
  expect(perf).not.toMatch(/^\| implementation \|/m); // bench/run.js's table
  expect(perf).not.toMatch(/^\| profile \|/m); // bench/network.js's
  expect(perf).not.toMatch(/^\| scenario \|/m); // bench/readiness.js's
});
