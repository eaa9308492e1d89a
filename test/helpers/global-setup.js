'use strict';
// jest globalSetup: the collection directory of this run for the leak check. Workers inherit the
// variable; leak-collector.ts and softhsm-environment.js append to it; global-teardown.ts greps it.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

module.exports = async function globalSetup() {
  process.env.HSM_JWKS_LEAK_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'hsm-jwks-leak-check-'));
};
