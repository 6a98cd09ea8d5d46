// Where things live, read from the code itself: Slack's chat.postMessage/chat.update are called only in src/slack/
// (services pass facts to a poster there), and SQL runs only in src/db/ (repositories and helpers).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/repo-root.js';

function sources(): { file: string; text: string }[] {
  const found: { file: string; text: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) found.push({ file: relative(REPO_ROOT, path).split('\\').join('/'), text: readFileSync(path, 'utf8') });
    }
  };
  for (const dir of ['src', 'handlers', 'jobs']) walk(join(REPO_ROOT, dir));
  return found;
}

/** `slack.chat.postMessage(` and `client.chat\n  .update(`, not the method names in strings or comments. */
const SLACK_WRITE = /\bchat\s*\.\s*(?:postMessage|update)\s*\(/g;
/** `pool.query(`, `client.query<Row>(`: a statement sent to Postgres. */
const SQL_CALL = /\.query\s*(?:<[^>()]*>)?\s*\(/g;

function filesMatching(pattern: RegExp, code: { file: string; text: string }[]): string[] {
  return code.filter(({ text }) => [...text.matchAll(pattern)].length > 0).map(({ file }) => file);
}

describe('where things live', () => {
  const code = sources();

  it('calls chat.postMessage and chat.update only in src/slack/', () => {
    const callers = filesMatching(SLACK_WRITE, code);
    // The pattern finds the posters' own calls, so a call elsewhere would be found too.
    expect(callers).toContain('src/slack/checklist-poster.ts');
    expect(callers.filter((file) => !file.startsWith('src/slack/'))).toEqual([]);
  });

  it('sends SQL only from src/db/', () => {
    const callers = filesMatching(SQL_CALL, code);
    expect(callers).toContain('src/db/upgrade-store.ts');
    expect(callers.filter((file) => !file.startsWith('src/db/'))).toEqual([]);
  });
});
