// Every status change the code makes, read from the code itself and checked against the state machine's table: no
// status is written outside the store's one conditional UPDATE, each change names an event of the table, and every
// event of the table is one the code makes.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allows, transitionsOf, UPGRADE_EVENTS, UPGRADE_STATUSES, type UpgradeEvent } from '../../src/domain/checklist.js';
import { REPO_ROOT } from '../support/repo-root.js';

/** The transitions the code performs, by file: what each `apply(id, '<event>'` call site means. */
const PERFORMED: Record<string, UpgradeEvent[]> = {
  'src/db/upgrade-store.ts': ['withdraw'],
  'src/upgrades/auto-upgrades.ts': ['start'],
  'src/upgrades/upgrade-requests.ts': ['start', 'expire', 'start', 'unqueue', 'cancel'],
  'src/upgrades/housekeeping.ts': ['invalidate'],
  'src/upgrades/scheduled-upgrades.ts': ['schedule', 'lapse', 'fire'],
  'src/upgrades/upgrade-runner.ts': ['fail', 'rollback_failed', 'rollback_succeeded', 'succeed', 'rollback_succeeded', 'begin', 'rollback', 'abandon'],
};

function sources(): { file: string; text: string }[] {
  const found: { file: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) found.push({ file: relative(REPO_ROOT, path), text: readFileSync(path, 'utf8') });
    }
  };
  for (const dir of ['src', 'handlers', 'jobs']) walk(join(REPO_ROOT, dir));
  return found;
}

describe('the transitions the code makes', () => {
  const code = sources();

  it('writes an upgrade\'s status in one statement only: the store\'s conditional UPDATE derived from the table', () => {
    const writes = code.flatMap(({ file, text }) =>
      [...text.matchAll(/UPDATE\s+upgrades\b[\s\S]*?(?:RETURNING|`)/g)].filter((m) => /\bSET\b[\s\S]*?[\s,]status\s*=/.test(m[0])).map(() => file),
    );
    expect(writes).toEqual(['src/db/upgrade-store.ts']);
    const store = code.find(({ file }) => file === 'src/db/upgrade-store.ts')!.text;
    expect(store).toMatch(/transitionsOf\(event\)/);
    expect(code.filter(({ text }) => /INSERT INTO upgrades\b/.test(text)).map(({ file }) => file)).toEqual(['src/db/upgrade-store.ts']);
  });

  it('names an event of the table at every call site, as listed here', () => {
    const calls: Record<string, string[]> = {};
    for (const { file, text } of code) {
      // `apply(id, event…` on the store, and the store's own applyWhere (not where it is defined).
      for (const m of text.matchAll(/(?<!function )\b(?:upgrades\.apply|applyWhere)\(\s*[^,()]+(?:\([^()]*\))?[^,()]*,\s*([^,)\s]+)/g)) {
        (calls[file] ??= []).push(m[1]!);
      }
    }
    // `apply` itself passes its event along.
    calls['src/db/upgrade-store.ts'] = calls['src/db/upgrade-store.ts']!.filter((arg) => arg !== 'event');

    expect(calls).toEqual(Object.fromEntries(Object.entries(PERFORMED).map(([file, events]) => [file, events.map((e) => `'${e}'`)])));
  });

  it('makes every event of the table, and the table has a transition for every event it makes', () => {
    const made = new Set(Object.values(PERFORMED).flat());

    expect([...made].sort()).toEqual([...UPGRADE_EVENTS].sort());
    for (const event of made) expect(transitionsOf(event).length, event).toBeGreaterThan(0);
    // And every status is reached or left by some event (no dead status in the table).
    for (const status of UPGRADE_STATUSES.filter((s) => s !== 'confirming')) {
      const reached = UPGRADE_EVENTS.some((event) => transitionsOf(event).some(({ to }) => to === status));
      const returnedTo = status === 'succeeded' || status === 'failed';
      expect(reached || returnedTo, status).toBe(true);
    }
    expect(UPGRADE_EVENTS.some((event) => allows('confirming', event))).toBe(true);
  });
});
