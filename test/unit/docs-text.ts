// Reading the docs for the tests that check them against the code: the pages, their tables, their
// sections. Markdown here is the subset the docs use: ATX headings, pipe tables, fenced code.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const root = path.join(__dirname, '..', '..');

export interface Page {
  /** Path from the package root, e.g. `docs/keys.md`. */
  file: string;
  text: string;
}

export function page(file: string): Page {
  return { file, text: fs.readFileSync(path.join(root, file), 'utf8') };
}

/** `docs/*.md` (the topic pages), or with `deep` every page under docs/ (the benchmark reports too). */
export function docsPages(deep = false): Page[] {
  const walk = (dir: string): string[] =>
    fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) return deep ? walk(rel) : [];
      return e.name.endsWith('.md') ? [rel] : [];
    });
  return walk('docs').sort().map(page);
}

/** The lines outside fenced code blocks. */
export function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** The text of the section under `heading` (its exact line, e.g. `## Errors`), up to the next heading of its level or above. */
export function section(text: string, heading: string): string {
  const lines = prose(text);
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex((l, i) => i > start && new RegExp(`^#{1,${level}} `).test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** The body rows of every pipe table in `text`, each as its cells (trimmed). */
export function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  let inTable = false;
  for (const line of prose(text)) {
    if (!line.startsWith('|')) {
      inTable = false;
      continue;
    }
    const cells = line
      .replace(/^\||\|$/g, '')
      .split('|')
      .map((c) => c.trim());
    if (!inTable) {
      inTable = true; // the header row
      continue;
    }
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue; // the delimiter row
    rows.push(cells);
  }
  return rows;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a page's headings, duplicates numbered as GitHub numbers them. */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of prose(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}
