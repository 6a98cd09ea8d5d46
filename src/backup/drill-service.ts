// Restore drills of configured targets, as the CLI, the slash command and the drill scheduler ask for them: the
// target's backups and database URL, the throwaway instance where the platform can make one (Docker), one drill or
// backup per target at a time, and the startup sweep of what a crashed drill left.
import { withAdvisoryLock } from '../db/checked-out-client.js';
import type { Pool } from '../db/pool.js';
import type { DrillResult } from '../domain/drill.js';
import { AppError, isAppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TargetRegistry } from '../targets/registry.js';
import { runRestoreDrill, sweepDrillDatabases } from './restore-drill.js';

export interface DrillServiceDeps {
  targets: TargetRegistry;
  logger: Logger;
  now(): Date;
  /** Serialises drills with backups of the same target (retention must not delete the dump being restored). */
  pool?: Pool;
  pgRestore?: string;
  /** Counts each drill's result (the bot's Prometheus counter); a drill stopped by the signal is not counted. */
  countDrill?(target: string, result: 'passed' | 'failed'): void;
}

export function createDrillService(deps: DrillServiceDeps) {
  const { logger } = deps;

  function configured(targetName: string | undefined) {
    const runtime = deps.targets.resolve(targetName);
    const settings = runtime.config.backup;
    const target = runtime.config.name;
    if (!settings) {
      throw new AppError('backup_misconfigured', `Target \`${target}\` has no \`backup\` block: a drill restores its backups, so configure \`backup\` first.`);
    }
    const databaseUrl = runtime.config.backupDatabaseUrl;
    if (!databaseUrl) {
      throw new AppError('backup_misconfigured', `The bot cannot drill \`${target}\`: the environment variable ${settings.databaseUrlEnv} (its database URL) is not set.`);
    }
    return { runtime, settings, target, databaseUrl };
  }

  async function drill(targetName: string | undefined, signal?: AbortSignal): Promise<DrillResult> {
    const { runtime, settings, target, databaseUrl } = configured(targetName);
    const { deployer } = runtime;
    const drillOnce = () =>
      runRestoreDrill(
        {
          target,
          databaseUrl,
          dir: settings.dir,
          ...(signal ? { signal } : {}),
          ...(deployer.startDrillInstance
            ? {
                startInstance: ({ version, databaseUrl: drillUrl }: { version: string; databaseUrl: string }) =>
                  deployer.startDrillInstance!({
                    target,
                    version,
                    database: decodeURIComponent(new URL(drillUrl).pathname.slice(1)),
                    initTimeoutMs: runtime.config.postflight.readyTimeout * 1000,
                    ...(signal ? { signal } : {}),
                  }).catch((err: unknown) => {
                    // The engine's failure is the drill's verdict, not a crash: the database is dropped all the same.
                    logger.warn({ target, err: { message: (err as Error).message } }, 'drill instance could not be run');
                    return { started: false, reason: `the container platform could not run the throwaway Checkstack: ${isAppError(err) ? err.message : 'see the bot log'}` };
                  }),
              }
            : {}),
        },
        { logger, now: deps.now, ...(deps.pgRestore ? { pgRestore: deps.pgRestore } : {}) },
      );
    const run = () =>
      drillOnce().then(
        (result) => {
          deps.countDrill?.(target, result.passed ? 'passed' : 'failed');
          return result;
        },
        (err: unknown) => {
          if (!signal?.aborted) deps.countDrill?.(target, 'failed');
          throw err;
        },
      );
    if (!deps.pool) return run();
    const locked = await withAdvisoryLock(
      deps.pool,
      { space: 'backup', id: target },
      { wait: true, onLost: (err) => logger.warn({ target, err: { message: err.message } }, 'drill lock connection lost') },
      run,
    );
    if (!locked.locked) throw new Error('unreachable: a waiting advisory lock is always taken');
    return locked.value;
  }

  /**
   * At startup: drops leftover drill databases and removes leftover drill instances of every target with `backup`.
   * Under the target's lock without waiting: a drill another replica runs now is no leftover, and is skipped.
   */
  async function sweepLeftovers(): Promise<void> {
    for (const runtime of deps.targets.all()) {
      const target = runtime.config.name;
      const databaseUrl = runtime.config.backupDatabaseUrl;
      if (!runtime.config.backup || !databaseUrl) continue;
      const sweep = async () => {
        await sweepDrillDatabases({ target, databaseUrl }, logger).catch((err: unknown) => logger.warn({ target, err: { message: (err as Error).message } }, 'could not sweep drill databases'));
        await runtime.deployer.sweepDrillInstances?.(target).catch((err: unknown) => logger.warn({ target, err: { message: (err as Error).message } }, 'could not sweep drill instances'));
      };
      if (!deps.pool) await sweep();
      else await withAdvisoryLock(deps.pool, { space: 'backup', id: target }, { wait: false, onLost: () => undefined }, sweep);
    }
  }

  /** The name of the target, refused with `backup_misconfigured` when it cannot be drilled (the slash command asks before queueing). */
  function configuredTarget(targetName: string | undefined): string {
    return configured(targetName).target;
  }

  return { drill, sweepLeftovers, configuredTarget };
}

export type DrillService = ReturnType<typeof createDrillService>;
