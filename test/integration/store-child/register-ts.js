'use strict';
// Lets a child process of the store tests require the TypeScript sources as they are (no build,
// no ts-node): `node --require ./register-ts.js …` transpiles each .ts file on load with the
// project's TypeScript (types are not checked here; the test run's typecheck does that).
const fs = require('node:fs');
const ts = require('typescript');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  esModuleInterop: true,
  sourceMap: false,
};

require.extensions['.ts'] = function compileTs(module, filename) {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), { fileName: filename, compilerOptions });
  module._compile(outputText, filename);
};
