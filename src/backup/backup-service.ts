// Backups of configured targets, as the bot, the CLI and the upgrade job ask for them: the target's `backup` block
// and its database URL, the version it runs (for the dump's name), one backup per target at a time, and the newest
// backup's freshness for the checklist and `/checkstack status`.
import { newestBackup, type StoredBackup } from './catalog.js';
import { takeBackup, type BackupOutcome } from './take-backup.js';
import { withAdvisoryLock } from '../db/checked-out-client.js';
import type { Pool } from '../db/pool.js';
import { backupFreshness, type BackupFreshness } from '../domain/backup.js';
import { AppError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TargetRegistry, TargetRuntime } from '../targets/registry.js';

export interface BackupServiceDeps {
  targets: TargetRegistry;
  logger: Logger;
  now(): Date;
  /** Serialises backups of one target across the bot's replicas (an advisory lock); the CLI runs without. */
  pool?: Pool;
  /** The pg_dump executable (default: `pg_dump` on the PATH). */
  pgDump?: string;
  /** Counts each backup's result (the bot's Prometheus counter). */
  countBackup?(target: string, result: 'taken' | 'failed'): void;
}

export interface BackupRequest {
  /** The version the target runs; read from the target when absent. */
  version?: string;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** The newest backup of a target with `backup`, and whether it satisfies the checklist (`maxAge`). */
export interface BackupState {
  target: string;
  maxAgeMs: number;
  freshness: BackupFreshness;
}

export function createBackupService(deps: BackupServiceDeps) {
  const { logger } = deps;

  function configured(targetName: string | undefined): { runtime: TargetRuntime; backup: NonNullable<TargetRuntime['config']['backup']> } {
    const runtime = deps.targets.resolve(targetName);
    const backup = runtime.config.backup;
    if (!backup) {
      throw new AppError('backup_misconfigured', `Target \`${runtime.config.name}\` has no \`backup\` block: add one (databaseUrlEnv, dir) to its entry in the config file to let the bot back it up.`);
    }
    return { runtime, backup };
  }

  /** The version in the dump's name: the running image's tag, else what `/api/about` says. */
  async function runningVersion(runtime: TargetRuntime): Promise<string> {
    const instance = await runtime.deployer.describe().catch(() => null);
    if (instance?.tag) return instance.tag;
    const about = await runtime.checkstack.about().catch(() => null);
    return about?.releaseVersion ?? 'unknown';
  }

  async function backup(targetName: string | undefined, request: BackupRequest = {}): Promise<BackupOutcome> {
    const { runtime, backup: settings } = configured(targetName);
    const target = runtime.config.name;
    const databaseUrl = runtime.config.backupDatabaseUrl;
    if (!databaseUrl) {
      throw new AppError('backup_misconfigured', `The bot cannot back up \`${target}\`: the environment variable ${settings.databaseUrlEnv} (its database URL) is not set.`);
    }
    const version = request.version ?? (await runningVersion(runtime));
    const take = () =>
      takeBackup(
        { target, version, databaseUrl, dir: settings.dir, keep: settings.keep, ...(request.signal ? { signal: request.signal } : {}), ...(request.onProgress ? { onProgress: request.onProgress } : {}) },
        { logger, now: deps.now, ...(deps.pgDump ? { pgDump: deps.pgDump } : {}) },
      );
    const counted = () =>
      take().then(
        (outcome) => {
          deps.countBackup?.(target, 'taken');
          return outcome;
        },
        (err: unknown) => {
          if (!request.signal?.aborted) deps.countBackup?.(target, 'failed');
          throw err;
        },
      );
    if (!deps.pool) return counted();
    const locked = await withAdvisoryLock(
      deps.pool,
      { space: 'backup', id: target },
      { wait: true, onLost: (err) => logger.warn({ target, err: { message: err.message } }, 'backup lock connection lost') },
      counted,
    );
    if (!locked.locked) throw new Error('unreachable: a waiting advisory lock is always taken');
    return locked.value;
  }

  async function newest(targetName: string | undefined): Promise<StoredBackup | null> {
    const { runtime, backup: settings } = configured(targetName);
    return newestBackup(settings.dir, runtime.config.name);
  }

  /** The newest backup's state, or null for a target without `backup`. Never throws for an unreadable folder: that is "none". */
  async function state(targetName: string | undefined): Promise<BackupState | null> {
    const runtime = deps.targets.resolve(targetName);
    const settings = runtime.config.backup;
    if (!settings) return null;
    const stored = await newestBackup(settings.dir, runtime.config.name).catch((err: unknown) => {
      logger.warn({ err, target: runtime.config.name }, 'could not read the backup folder');
      return null;
    });
    return { target: runtime.config.name, maxAgeMs: settings.maxAge, freshness: backupFreshness(stored?.record ?? null, deps.now(), settings.maxAge) };
  }

  /** The name of the target, refused with `backup_misconfigured` when it has no `backup` block. */
  function configuredTarget(targetName: string | undefined): string {
    return configured(targetName).runtime.config.name;
  }

  return { backup, newest, state, configuredTarget };
}

export type BackupService = ReturnType<typeof createBackupService>;
