import { describe, expect, it } from 'vitest';
import { classifyLogLine, logLineForSlack, type LogLineLevel } from '../../src/domain/log-levels.js';
import { summarizeLogWatch } from '../../src/slack/log-watch-words.js';
import { maskSecrets } from '../../src/secret-mask.js';

describe('classifyLogLine', () => {
  const cases: [string, string, LogLineLevel][] = [
    // Checkstack's winston `format.simple()`, with and without colours
    ['winston error', 'error: Failed to connect to queue {"timestamp":"2025-06-01 12:00:00.000"}', 'error'],
    ['winston warn', 'warn: --> GET /api/catalog/getSystems 403 2.1ms', 'warn'],
    ['winston info', 'info: Checkstack Core initialized', 'info'],
    ['winston debug', 'debug: <-- GET /.checkstack/ready', 'info'],
    ['winston colourised error', '\u001b[31merror\u001b[39m: --> POST /api/healthcheck/getHistory 500 3.0ms', 'error'],
    ['winston colourised warn', '\u001b[33mwarn\u001b[39m: plugin took long to init', 'warn'],
    // pino / bunyan JSON
    ['pino 60', '{"level":60,"time":1717243200000,"msg":"cannot start"}', 'fatal'],
    ['pino 50', '{"level":50,"time":1717243200000,"msg":"query failed"}', 'error'],
    ['pino 40', '{"level":40,"msg":"slow query"}', 'warn'],
    ['pino 30', '{"level":30,"msg":"listening"}', 'info'],
    ['pino 20', '{"level":20,"msg":"detail"}', 'info'],
    ['pino string level', '{"level":"error","msg":"query failed"}', 'error'],
    ['winston json', '{"level":"warn","message":"deprecated option","timestamp":"2025-06-01T12:00:00Z"}', 'warn'],
    ['json fatal string', '{"level":"fatal","msg":"bye"}', 'fatal'],
    ['json severity', '{"severity":"ERROR","message":"x"}', 'error'],
    ['json colourised level', '{"level":"\\u001b[31merror\\u001b[39m","message":"x"}', 'error'],
    ['json without level', '{"msg":"error: not a level field"}', 'error'],
    ['json without anything', '{"hello":"world"}', 'other'],
    ['broken json', '{not json at all', 'other'],
    // plain text
    ['bracketed', '[ERROR] database unreachable', 'error'],
    ['bracketed warn after timestamp', '2025-06-01 12:00:00,123 [WARN] retrying', 'warn'],
    ['upper with colon', 'ERROR: relation "plugins" does not exist', 'error'],
    ['upper after ISO timestamp', '2025-06-01T12:00:00.000Z ERROR migration failed', 'error'],
    ['pino-pretty', '[12:00:00.123] ERROR (42): boom', 'error'],
    ['logfmt', 'time=2025-06-01T12:00:00Z level=error msg="boom"', 'error'],
    ['logfmt quoted', 'ts=1 lvl="warn" msg=slow', 'warn'],
    ['logger name then level', 'checkstack:queue [error] job failed', 'error'],
    ['FATAL word', '2025-06-01 12:00:00 FATAL could not bind port', 'fatal'],
    ['fatal lower with colon', 'fatal: cannot continue', 'fatal'],
    ['error upgraded by crash marker', 'error: Uncaught exception: TypeError: x is not a function', 'fatal'],
    ['uncaught exception', 'Uncaught Exception: ReferenceError: foo is not defined', 'fatal'],
    ['unhandled rejection', 'Unhandled promise rejection: Error: ECONNREFUSED', 'fatal'],
    ['bun panic', 'panic(main thread): Segmentation fault at address 0x0', 'fatal'],
    ['go-style panic', 'panic: runtime error: index out of range', 'fatal'],
    ['node oom', 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory', 'fatal'],
    ['error stack head', 'Error: connect ECONNREFUSED 127.0.0.1:5432', 'error'],
    ['typed error stack head', 'TypeError: Cannot read properties of undefined (reading \'id\')', 'error'],
    ['coded error head', 'AppError [ERR_MIGRATION]: migration 12 failed', 'error'],
    ['node warning', '(node:1) DeprecationWarning: Buffer() is deprecated', 'warn'],
    ['fake image warning', 'warning: this is a fake Checkstack', 'warn'],
    ['fake image refusal', 'Error: fake Checkstack refuses to start (exit-on-start)', 'error'],
    // not problems
    ['stack frame', '    at processTicksAndRejections (node:internal/process/task_queues:95:5)', 'other'],
    ['banner', 'Checkstack 0.141.0 starting (args: serve) in /srv on port 3000', 'other'],
    ['lower word without colon', 'error handling middleware registered', 'other'],
    ['counts mentioning errors', 'Migrations done: 0 errors, 2 warnings', 'other'],
    ['info mentioning a crash handler', 'info: installed handler for uncaught exceptions', 'info'],
    ['empty', '', 'other'],
    ['blank', '   ', 'other'],
  ];

  it.each(cases)('%s', (_name, line, expected) => {
    expect(classifyLogLine(line)).toBe(expected);
  });
});

describe('maskSecrets', () => {
  const cases: [string, string, string][] = [
    ['env assignment', 'ENCRYPTION_MASTER_KEY=0123abcd rest', 'ENCRYPTION_MASTER_KEY=••• rest'],
    ['token', 'using SLACK_BOT_TOKEN=abc123, retry', 'using SLACK_BOT_TOKEN=•••, retry'],
    ['password colon', 'db password: hunter2', 'db password: •••'],
    ['quoted', 'SECRET="two words"', 'SECRET="•••"'],
    ['json', '{"apiKey":"ck_x","ok":true}', '{"apiKey":"•••","ok":true}'],
    ['url credentials', 'connecting to postgres://checkstack:s3cret@db:5432/ck', 'connecting to postgres://checkstack:•••@db:5432/ck'],
    ['bearer', 'Authorization header Bearer abcdefghijkl', 'Authorization header Bearer •••'],
    ['checkstack key', 'key ck_00000000-0000-4000-8000-000000000001_admin-secret-value rejected', 'key ••• rejected'],
    ['slack token', 'sent with xoxb-123-456-abc', 'sent with •••'],
    ['nothing secret', 'error: relation "plugins" does not exist', 'error: relation "plugins" does not exist'],
  ];
  it.each(cases)('%s', (_name, line, expected) => {
    expect(maskSecrets(line)).toBe(expected);
  });

  it('shows a line as one masked line of at most 300 characters', () => {
    const shown = logLineForSlack(`\u001b[31mFATAL\u001b[39m PASSWORD=abc\n${'x'.repeat(400)}`);
    expect(shown).toMatch(/^FATAL PASSWORD=••• x+…$/);
    expect(shown).toHaveLength(300);
  });
});

describe('summarizeLogWatch', () => {
  it('summarises a watch that ran its hour without restarts', () => {
    expect(summarizeLogWatch({ warn: 3, error: 1, fatal: 0 }, 0, { kind: 'ended', minutes: 60 })).toBe(
      '🔎 Log watch ended after 60 min: 3 warnings, 1 error, 0 fatal; no restarts',
    );
  });

  it('names who stopped it and how often it restarted', () => {
    expect(summarizeLogWatch({ warn: 1, error: 0, fatal: 2 }, 2, { kind: 'stopped', minutes: 12.4, by: 'U0APPROVER1' })).toBe(
      '🔎 Log watch stopped by <@U0APPROVER1> after 12 min: 1 warning, 0 errors, 2 fatal; restarted 2 times',
    );
  });

  it('says less than a minute rather than 0 min', () => {
    expect(summarizeLogWatch({ warn: 0, error: 0, fatal: 0 }, 0, { kind: 'stopped', minutes: 0.4 })).toBe(
      '🔎 Log watch stopped after less than a minute: 0 warnings, 0 errors, 0 fatal; no restarts',
    );
  });

  it('says when the upgrade moved on and the container is down', () => {
    expect(
      summarizeLogWatch({ warn: 0, error: 0, fatal: 1 }, 1, {
        kind: 'superseded',
        minutes: 5,
        status: 'rolled_back',
        runtime: { running: false, exitCode: 137, oomKilled: true },
      }),
    ).toBe(
      '🔎 Log watch ended after 5 min (the upgrade is now rolled back): 0 warnings, 0 errors, 1 fatal; restarted 1 time; ' +
        'the container is not running (exited with code 137, OOM killed)',
    );
  });
});
