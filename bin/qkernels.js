#!/usr/bin/env node
// The qkernels command line: dispatches to dist/cli (lib/cli/index.ts), e.g. `qkernels inspect model.pth`.
'use strict';

require('../dist/cli/index.js')
  .main(process.argv.slice(2))
  .then((status) => {
    process.exitCode = status;
  });
