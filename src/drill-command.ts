// `checkstack-chatops drill [--target NAME] [--json]`: a restore drill of the target's newest backup now.
// Exit codes: 0 passed, 1 the drill failed (a count mismatch or a restore that did not get that far), 2 bad usage,
// an unknown target or a target without `backup`.
import type { DrillService } from './backup/drill-service.js';
import { parseTargetArgs } from './cli-target-args.js';
import { isAppError } from './errors.js';

export const DRILL_USAGE = 'Usage: checkstack-chatops drill --target NAME [--json]';

export interface DrillCommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export async function runDrillCommand(args: string[], io: DrillCommandIo, drills: Pick<DrillService, 'drill'>): Promise<number> {
  const parsed = parseTargetArgs(args);
  if ('problem' in parsed) {
    io.err.write(`${parsed.problem}\n${DRILL_USAGE}\n`);
    return 2;
  }
  try {
    const result = await drills.drill(parsed.target);
    if (parsed.json) {
      const { target, backup, restoredInto, tables, rowsMatch, mismatches, started, passed, durationMs } = result;
      io.out.write(`${JSON.stringify({ target, backup, restoredInto, tables, rowsMatch, mismatches, started, passed, durationMs }, null, 2)}\n`);
    } else {
      const seconds = (result.durationMs / 1000).toFixed(1);
      const head = result.passed
        ? `Restore drill of ${result.target} passed in ${seconds} s: ${result.backup} restored, all ${result.tables} tables have the row counts of the backup.\n`
        : `Restore drill of ${result.target} FAILED in ${seconds} s: ${result.backup} restored, but ${result.mismatchCount} of ${result.tables} tables differ from the backup's counts:\n`;
      const lines = result.mismatches.map((m) => `  ${m.table}: backup ${m.expected ?? 'no such table'}, restored ${m.restored ?? 'no such table'}\n`);
      io.out.write(head + lines.join('') + (result.mismatchCount > result.mismatches.length ? `  … and ${result.mismatchCount - result.mismatches.length} more\n` : ''));
    }
    return result.passed ? 0 : 1;
  } catch (err) {
    if (!isAppError(err)) throw err;
    io.err.write(`${err.message}\n`);
    return err.code === 'drill_failed' ? 1 : 2;
  }
}
