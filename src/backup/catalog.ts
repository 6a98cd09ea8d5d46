// The backups on disk of one target: `<dir>/<target>/<stem>.dump` with `<stem>.json` beside it. A backup counts only
// when both are complete: the `.json` parses as a backup record of this target and the dump has exactly the bytes it
// names. The writer (src/backup/take-backup.ts) renames each file into place only when it is whole, so anything
// else in the folder (a `.partial`, a dump without its record) is the leftover of an interrupted backup.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { backupRecordSchema, newestFirst, type BackupRecord } from '../domain/backup.js';

export interface StoredBackup {
  record: BackupRecord;
  dumpPath: string;
  recordPath: string;
}

export interface IgnoredFile {
  path: string;
  reason: string;
}

export interface BackupListing {
  /** Complete backups, newest first. */
  backups: StoredBackup[];
  /** Files in the target's folder that are not part of a complete backup, and why. */
  ignored: IgnoredFile[];
}

export const DUMP_EXTENSION = '.dump';
export const RECORD_EXTENSION = '.json';
/** Suffix of a file still being written; never read as a backup. */
export const PARTIAL_SUFFIX = '.partial';

export function targetBackupDir(dir: string, target: string): string {
  return join(dir, target);
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

async function readRecord(recordPath: string, target: string): Promise<{ record: BackupRecord } | { reason: string }> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(recordPath, 'utf8'));
  } catch {
    return { reason: 'not valid JSON' };
  }
  const parsed = backupRecordSchema.safeParse(raw);
  if (!parsed.success) return { reason: `not a backup record (${parsed.error.issues[0]?.path.join('.') || 'shape'})` };
  if (parsed.data.target !== target) return { reason: `a backup of target "${parsed.data.target}"` };
  return { record: parsed.data };
}

/** Every complete backup of `target` under `dir`, newest first. A missing folder is an empty listing. */
export async function listBackups(dir: string, target: string): Promise<BackupListing> {
  const folder = targetBackupDir(dir, target);
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { backups: [], ignored: [] };
    throw err;
  }
  const backups: StoredBackup[] = [];
  const ignored: IgnoredFile[] = [];
  const claimed = new Set<string>();
  for (const name of names.filter((n) => n.endsWith(RECORD_EXTENSION))) {
    const recordPath = join(folder, name);
    const result = await readRecord(recordPath, target);
    if ('reason' in result) {
      ignored.push({ path: recordPath, reason: result.reason });
      continue;
    }
    const dumpName = `${name.slice(0, -RECORD_EXTENSION.length)}${DUMP_EXTENSION}`;
    const dumpPath = join(folder, dumpName);
    const bytes = await sizeOf(dumpPath);
    if (bytes === null) {
      ignored.push({ path: recordPath, reason: 'its dump is missing' });
      continue;
    }
    if (bytes !== result.record.bytes || basename(result.record.file) !== dumpName) {
      ignored.push({ path: recordPath, reason: `its dump has ${bytes} bytes where the record says ${result.record.bytes}` });
      continue;
    }
    claimed.add(dumpName).add(name);
    backups.push({ record: result.record, dumpPath, recordPath });
  }
  for (const name of names) {
    if (claimed.has(name) || name.endsWith(RECORD_EXTENSION)) continue;
    ignored.push({ path: join(folder, name), reason: name.endsWith(PARTIAL_SUFFIX) ? 'an interrupted backup' : 'no complete record beside it' });
  }
  const order = newestFirst(backups.map((b) => ({ ...b.record, entry: b })));
  return { backups: order.map((o) => o.entry), ignored };
}

/** The newest complete backup of `target`, or null. */
export async function newestBackup(dir: string, target: string): Promise<StoredBackup | null> {
  return (await listBackups(dir, target)).backups[0] ?? null;
}

/** Deletes one backup: the record first, so that an interruption never leaves a record without its dump. */
export async function removeBackup(backup: StoredBackup): Promise<void> {
  await rm(backup.recordPath, { force: true });
  await rm(backup.dumpPath, { force: true });
}
