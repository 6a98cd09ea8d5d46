// The pin record as a compose file mounted into the bot: edited in place, atomically (write a sibling, then
// rename), keeping every other byte, comment and the file's mode.
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { countImageTag, replaceImageTag } from './pin-record-text.js';
import { AppError } from '../errors.js';

/** Whether the file pins `image:version` now. */
export async function filePinsTag(path: string, image: string, version: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AppError('git_record_failed', `Cannot read the pinned file ${path}: ${(err as Error).message}`, {}, { cause: err });
  }
  return countImageTag(text, image, version) > 0;
}

/** Changes `image:from` to `image:to`; a file that already pins `to` is left alone (a re-run after a crash). */
export async function pinTagInFile(path: string, image: string, fromVersion: string, toVersion: string): Promise<'changed' | 'unchanged'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AppError('git_record_failed', `Cannot read the pinned file ${path}: ${(err as Error).message}`, {}, { cause: err });
  }
  const result = replaceImageTag(text, image, fromVersion, toVersion);
  if (result.replaced === 0) {
    if (countImageTag(text, image, toVersion) > 0) return 'unchanged';
    throw new AppError('git_record_failed', `${path} does not pin \`${image}:${fromVersion}\`; it was changed by hand? Nothing was written.`);
  }
  const mode = (await stat(path)).mode;
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(temporary, result.text, { mode });
  await chmod(temporary, mode);
  await rename(temporary, path);
  return 'changed';
}
