// Restore drills of configured targets, as the bot and the CLI ask for them: the target's `backup` block and its
// database URL, one drill per target at a time across replicas, and the startup sweep of drill leftovers.
import { withAdvisoryLock } from '../db/checked-out-client.js';
import type { Pool } from '../db/pool.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TargetRegistry, TargetRuntime } from '../targets/registry.js';
import { runRestoreDrill, sweepDrillDatabases, type DrillResult } from './restore-drill.js';

export interface DrillServiceDeps {
  targets: TargetRegistry;
  logger: Logger;
  now(): Date;
  /** Serialises drills of one target across the bot's replicas (an advisory lock); the CLI runs without. */
  pool?: Pool;
  /** The pg_restore executable (default: `pg_restore` on the PATH). */
  pgRestore?: string;
}

export function createDrillService(deps: DrillServiceDeps) {
  const { logger } = deps;

  function configured(targetName: string | undefined): { runtime: TargetRuntime; dir: string; databaseUrl: string } {
    const runtime = deps.targets.resolve(targetName);
    const backup = runtime.config.backup;
    if (!backup) {
      throw new AppError('backup_misconfigured', `Target \`${runtime.config.name}\` has no \`backup\` block: a drill restores its backups, so add one (databaseUrlEnv, dir) to its entry in the config file.`);
    }
    const databaseUrl = runtime.config.backupDatabaseUrl;
    if (!databaseUrl) {
      throw new AppError('backup_misconfigured', `The bot cannot drill \`${runtime.config.name}\`: the environment variable ${backup.databaseUrlEnv} (its database URL) is not set.`);
    }
    return { runtime, dir: backup.dir, databaseUrl };
  }

  async function drill(targetName: string | undefined, request: { signal?: AbortSignal } = {}): Promise<DrillResult> {
    const { runtime, dir, databaseUrl } = configured(targetName);
    const target = runtime.config.name;
    const run = () => runRestoreDrill({ target, databaseUrl, dir, ...(request.signal ? { signal: request.signal } : {}) }, { logger, now: deps.now, ...(deps.pgRestore ? { pgRestore: deps.pgRestore } : {}) });
    if (!deps.pool) return run();
    const locked = await withAdvisoryLock(
      deps.pool,
      { space: 'drill', id: target },
      { wait: true, onLost: (err) => logger.warn({ target, err: { message: err.message } }, 'drill lock connection lost') },
      run,
    );
    if (!locked.locked) throw new Error('unreachable: a waiting advisory lock is always taken');
    return locked.value;
  }

  /** Drops what interrupted drills left on every target's server; a server that does not answer is logged, not fatal. */
  async function sweep(): Promise<string[]> {
    const dropped: string[] = [];
    for (const runtime of deps.targets.all()) {
      const { name, backup, backupDatabaseUrl } = runtime.config;
      if (!backup || !backupDatabaseUrl) continue;
      try {
        dropped.push(...(await sweepDrillDatabases({ target: name, databaseUrl: backupDatabaseUrl }, logger)));
      } catch (err) {
        logger.warn({ target: name, err: { code: (err as { code?: string }).code } }, 'could not sweep drill leftovers');
      }
    }
    return dropped;
  }

  /** The name of the target, refused with `backup_misconfigured` when it cannot be drilled. */
  function configuredTarget(targetName: string | undefined): string {
    return configured(targetName).runtime.config.name;
  }

  return { drill, sweep, configuredTarget };
}

export type DrillService = ReturnType<typeof createDrillService>;
