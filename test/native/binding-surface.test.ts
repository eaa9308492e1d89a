// binding.d.ts must declare exactly what the loaded addon exports, and the TS constant tables must
// be what scripts/gen-constants.js derives from native/cryptoki_constants.h.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

import { nativeBinding } from '../../lib/pkcs11/native';

const root = path.join(__dirname, '..', '..');

function declaredSurface(): { functions: string[]; classes: Map<string, string[]> } {
  const file = path.join(root, 'binding.d.ts');
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const functions: string[] = [];
  const classes = new Map<string, string[]>();
  for (const stmt of source.statements) {
    const exported = ts.canHaveModifiers(stmt) && ts.getModifiers(stmt)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    if (!exported) continue;
    if (ts.isFunctionDeclaration(stmt) && stmt.name) functions.push(stmt.name.text);
    if (ts.isClassDeclaration(stmt) && stmt.name) {
      const methods = stmt.members.filter(ts.isMethodDeclaration).map((m) => (m.name as ts.Identifier).text);
      classes.set(stmt.name.text, methods);
    }
    if (ts.isVariableStatement(stmt)) throw new Error('binding.d.ts declares a variable: check it here too');
  }
  return { functions, classes };
}

test('the loaded addon exports exactly what binding.d.ts declares', () => {
  const addon = nativeBinding() as unknown as Record<string, unknown>;
  const { functions, classes } = declaredSurface();
  expect(Object.keys(addon).sort()).toEqual([...functions, ...classes.keys()].sort());
  for (const name of functions) expect(typeof addon[name]).toBe('function');
  for (const [name, methods] of classes) {
    const proto = (addon[name] as { prototype: object }).prototype;
    const actual = Object.getOwnPropertyNames(proto).filter((m) => m !== 'constructor');
    expect({ name, methods: actual.sort() }).toEqual({ name, methods: [...methods].sort() });
    for (const m of actual) expect(typeof (proto as Record<string, unknown>)[m]).toBe('function');
  }
});

test('binding.d.ts declares nothing as any', () => {
  const text = fs.readFileSync(path.join(root, 'binding.d.ts'), 'utf8');
  expect(text).not.toMatch(/(:|<|\|)\s*any\b/);
});

test('lib/pkcs11/constants.ts is generated from native/cryptoki_constants.h and up to date', () => {
  const { generate, outPath } = require(path.join(root, 'scripts', 'gen-constants.js')) as { generate(): string; outPath: string };
  expect(fs.readFileSync(outPath, 'utf8')).toBe(generate());
});
