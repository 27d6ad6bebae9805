// Jest configuration: TypeScript tests in test/ (ts-jest, type-checked with test/tsconfig.json) against the built package.
'use strict';
const { createDefaultPreset } = require('ts-jest');

module.exports = {
  ...createDefaultPreset({ tsconfig: '<rootDir>/test/tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The oracle spawns Python and imports torch once per file; sweeps run long.
  testTimeout: 60000,
  // Two cores: one jest worker per core.
  maxWorkers: 2,
};
