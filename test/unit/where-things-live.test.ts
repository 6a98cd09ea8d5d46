// Where things live, read from the code itself: Slack's chat.postMessage/chat.update are called only in src/slack/
// (services pass facts to a poster there), SQL runs only in src/db/ (repositories and helpers), and the thread's
// step lines (an emoji marker before mrkdwn emphasis) are worded only in src/slack/.
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

/**
 * The cheapest sign of Slack wording: a step marker before mrkdwn emphasis (`✅ *Pull* finished`, `⏳ *Readiness*:`,
 * `❌ *Upgrade failed*`), or the resume arrow (`↩️ Resuming after`). Comments do not count.
 */
const SLACK_STEP_LINE = /(?:✅|⏳|❌|⚠️|▶️|⏸️|⏹️) \*|↩️/g;
/** Where services and jobs live: they return facts, and src/slack/ turns them into these lines. */
const FACT_DIRS = ['src/upgrades/', 'src/backup/', 'src/checkstack/', 'src/pin/', 'src/targets/', 'src/github/', 'jobs/', 'handlers/'];

function withoutComments(text: string): string {
  // Lines of `//` comments and of doc blocks (`/**`, ` * `); a marker inside code stays visible.
  return text.replace(/^\s*(?:\/\/|\/\*|\*).*$/gm, '');
}

function filesMatching(pattern: RegExp, code: { file: string; text: string }[]): string[] {
  return code.filter(({ text }) => [...text.matchAll(pattern)].length > 0).map(({ file }) => file);
}

describe('where things live', () => {
  const code = sources();

  it('calls chat.postMessage and chat.update only in src/slack/', () => {
    const callers = filesMatching(SLACK_WRITE, code);
    // The pattern finds the posters' own calls, so a call elsewhere would be found too.
    expect(callers).toContain('src/slack/chat-calls.ts');
    expect(callers.filter((file) => !file.startsWith('src/slack/'))).toEqual([]);
  });

  it('sends SQL only from src/db/', () => {
    const callers = filesMatching(SQL_CALL, code);
    expect(callers).toContain('src/db/upgrade-store.ts');
    expect(callers.filter((file) => !file.startsWith('src/db/'))).toEqual([]);
  });

  it('words the step lines of a thread only in src/slack/', () => {
    // The pattern finds the step words' own lines, and a line such as this one would be found in a service too.
    expect(filesMatching(SLACK_STEP_LINE, [{ file: 'src/upgrades/example.ts', text: "progress(`⏳ *Pull* ${image}: ${layers}`);" }])).toEqual(['src/upgrades/example.ts']);
    expect(filesMatching(SLACK_STEP_LINE, [{ file: 'jobs/example.ts', text: 'post(`↩️ Resuming after *${title}*`);' }])).toEqual(['jobs/example.ts']);
    const words = code.map(({ file, text }) => ({ file, text: withoutComments(text) }));
    expect(filesMatching(SLACK_STEP_LINE, words)).toContain('src/slack/step-words.ts');
    expect(filesMatching(SLACK_STEP_LINE, words).filter((file) => FACT_DIRS.some((dir) => file.startsWith(dir)))).toEqual([]);
  });
});
