// `checkstack-chatops drill --target NAME [--json]`: a restore drill of the target's newest backup now.
// Exit codes: 0 passed, 1 the drill failed (or could not run), 2 bad usage, an unknown target or a target without `backup`.
// A drill that ran (or failed to) is recorded in the drills table as the bot's own are, so `/checkstack status` shows it.
import { parseTargetArgs } from './cli-target-args.js';
import type { DrillService } from './backup/drill-service.js';
import type { DrillRow } from './db/drill-store.js';
import { isAppError } from './errors.js';
import { oneLine } from './util/one-line.js';

export const DRILL_USAGE = 'Usage: checkstack-chatops drill --target NAME [--json]';

/** An error's message; a refused connection to every address of a host is an AggregateError without one. */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.message || (err as NodeJS.ErrnoException).code || err.name;
}

export interface DrillCommandDeps {
  drills: Pick<DrillService, 'drill' | 'configuredTarget'>;
  /** Stores the drill in the bot's database (the drills table). */
  record(drill: DrillRow): Promise<void>;
  now(): Date;
}

export async function runDrillCommand(args: string[], io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }, deps: DrillCommandDeps): Promise<number> {
  const parsed = parseTargetArgs(args);
  if ('problem' in parsed) {
    io.err.write(`${parsed.problem}\n${DRILL_USAGE}\n`);
    return 2;
  }
  // The exit code stays the drill's when its record cannot be stored: the operator is told, the drill still counts.
  const record = (drill: DrillRow) =>
    deps.record(drill).catch((err: unknown) => {
      io.err.write(`The drill could not be recorded in the bot's database, so /checkstack status will not show it: ${oneLine(errorText(err)).slice(0, 300)}\n`);
    });
  let target: string | null = null;
  const startedAt = deps.now();
  try {
    target = deps.drills.configuredTarget(parsed.target);
    const result = await deps.drills.drill(target);
    await record({ target, dumpFile: result.backup, passed: result.passed, tables: result.tables, mismatches: result.mismatches, error: result.reason, startedAt, finishedAt: deps.now() });
    if (parsed.json) {
      io.out.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const verdict = result.passed ? 'passed' : `FAILED (${result.failure}): ${result.reason}`;
      const instance = result.instanceChecked ? (result.started ? ', the throwaway Checkstack started and stayed up' : '') : ', no throwaway Checkstack (restore and counts only on this platform)';
      io.out.write(
        `Restore drill of ${result.target} ${verdict}\n` +
          `  backup ${result.backup} (${result.backupVersion}), restored into ${result.restoredInto} (dropped), ${result.tables} tables${result.rowsMatch ? ', every row count matches' : ''}${instance}, ${(result.durationMs / 1000).toFixed(1)} s\n` +
          result.mismatches.map((m) => `  ${m.table}: backup ${m.expected ?? 'no such table'}, restored ${m.restored ?? 'no such table'}\n`).join(''),
      );
    }
    return result.passed ? 0 : 1;
  } catch (err) {
    if (!isAppError(err)) throw err;
    if (err.code === 'drill_failed' && target !== null) {
      await record({ target, dumpFile: null, passed: false, tables: 0, mismatches: [], error: err.message, startedAt, finishedAt: deps.now() });
    }
    io.err.write(`${err.message}\n`);
    return err.code === 'drill_failed' ? 1 : 2;
  }
}
