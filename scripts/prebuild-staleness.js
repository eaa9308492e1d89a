'use strict';
// Whether a prebuild must be made again: missing, forced (`--force`), or older than one of its
// sources (files or directories, newest time inside). Shared by build-prebuild.js (x64, prebuildify)
// and build-prebuild-arm64.js (the cross build).
const fs = require('node:fs');
const path = require('node:path');

function newestMtime(entry) {
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs; // a directory's own time moves when a file is added or removed
  for (const name of fs.readdirSync(entry)) newest = Math.max(newest, newestMtime(path.join(entry, name)));
  return newest;
}

/** Why `target` must be built (a short reason), or undefined when it is up to date. */
function staleBecause(root, target, sources) {
  if (process.argv.includes('--force')) return 'forced';
  if (!fs.existsSync(target)) return 'missing';
  const built = fs.statSync(target).mtimeMs;
  const changed = sources.find((source) => newestMtime(path.join(root, source)) > built);
  return changed === undefined ? undefined : `${changed} changed`;
}

module.exports = { staleBecause };
