'use strict';
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/helpers/softhsm-environment.js',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }],
    // jose 6 and oidc-provider are ES modules; jest's CommonJS runtime loads them compiled (Node 20's
    // require(esm) is not jest's: jest has its own module loader, native require(esm) only on Node >= 24.9).
    '/node_modules/(jose|oidc-provider)/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'es2022', isolatedModules: true } },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(jose|oidc-provider)/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  // Each test file provisions its own SoftHSM token directory; keys take seconds to generate.
  testTimeout: 120000,
  maxWorkers: 2,
  // The secret-leak check (docs/reliability.md#secrets): what the tests see is recorded while they
  // run (this setup file, the recording helpers it names) and searched for the tests' PINs and
  // SECRETS_SYSTEM values by the reporter at the end; a hit fails the run.
  setupFilesAfterEnv: ['<rootDir>/test/helpers/secret-leak-setup.ts'],
  reporters: ['default', '<rootDir>/test/reporters/secret-leak-reporter.js'],
};
