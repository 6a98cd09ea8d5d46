// `checkstack-chatops drill --target NAME [--json]`: a restore drill of the target's newest backup now.
// Exit codes: 0 passed, 1 the drill failed (or could not run), 2 bad usage, an unknown target or a target without `backup`.
import { parseTargetArgs } from './cli-target-args.js';
import type { DrillService } from './backup/drill-service.js';
import { isAppError } from './errors.js';

export const DRILL_USAGE = 'Usage: checkstack-chatops drill --target NAME [--json]';

export async function runDrillCommand(args: string[], io: { out: NodeJS.WritableStream; err: NodeJS.WritableStream }, drills: Pick<DrillService, 'drill'>): Promise<number> {
  const parsed = parseTargetArgs(args);
  if ('problem' in parsed) {
    io.err.write(`${parsed.problem}\n${DRILL_USAGE}\n`);
    return 2;
  }
  try {
    const result = await drills.drill(parsed.target);
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
    io.err.write(`${err.message}\n`);
    return err.code === 'drill_failed' ? 1 : 2;
  }
}
