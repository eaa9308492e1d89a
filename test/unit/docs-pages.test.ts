// The README and the docs pages hold together: the README stays a five-minute read whose quick
// start names commands that exist, and every link between pages reaches a file and, with an
// anchor, a heading of it (GitHub's anchors).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { anchors, docsPages, page, prose, root } from './docs-text';

const readme = page('README.md');
const pages = [readme, ...docsPages(true)];

test('README.md is at most 12 KB', () => {
  expect(Buffer.byteLength(readme.text)).toBeLessThanOrEqual(12 * 1024);
});

test("the README's quick start names the two commands, and both exist", () => {
  const block = /## Quick start[^\n]*\n+```sh\n([\s\S]*?)```/.exec(readme.text)?.[1] ?? '';
  const commands = block
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);
  expect(commands).toEqual(['bash scripts/quickstart.sh', 'npm test']);
  expect(fs.existsSync(path.join(root, 'scripts', 'quickstart.sh'))).toBe(true);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  expect(pkg.scripts.test).toBeDefined();
});

test('the README links every topic page of docs/', () => {
  const linked = new Set([...readme.text.matchAll(/\]\((docs\/[^)#]+)\)/g)].map((m) => m[1]));
  expect(
    docsPages()
      .filter((p) => !linked.has(p.file))
      .map((p) => p.file),
  ).toEqual([]);
});

test('every relative link reaches a file, and every anchor a heading', () => {
  const broken: string[] = [];
  for (const { file, text } of pages) {
    // Inline code is not a link.
    const body = prose(text)
      .join('\n')
      .replace(/`[^`\n]*`/g, '');
    for (const [, target] of body.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue; // http:, https:, mailto:
      const [to, anchor] = target!.split('#') as [string, string | undefined];
      const resolved = to === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), to));
      const full = path.join(root, resolved);
      if (!fs.existsSync(full)) {
        broken.push(`${file}: ${target} (no ${resolved})`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!resolved.endsWith('.md') || !anchors(fs.readFileSync(full, 'utf8')).has(anchor))
        broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
    }
  }
  expect(broken).toEqual([]);
});
