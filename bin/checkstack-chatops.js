#!/usr/bin/env node
// Runs the compiled CLI (`npm run build`, or `npm ci`, builds dist/). `start` keeps running; the other
// commands exit with their code even if a client left a keep-alive socket open.
import { runCli } from '../dist/src/cli.js';

runCli(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
