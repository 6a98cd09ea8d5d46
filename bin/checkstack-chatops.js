#!/usr/bin/env node
// Runs the compiled CLI (`npm run build` or `npm ci` builds dist/).
import { runCli } from '../dist/src/cli.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
