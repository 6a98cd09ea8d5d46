// The manifest asks for exactly the scopes the code needs: the Slack Web API methods called in src/, handlers/ and
// jobs/ are read from the source and mapped to scopes with src/domain/slack-scopes.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METHODS_CALLED, neededScopes, SCOPES_BY_METHOD, SCOPES_WITHOUT_METHOD } from '../../src/domain/slack-scopes.js';
import { REPO_ROOT } from '../support/repo-root.js';

const FAMILIES = 'admin|api|apps|auth|bookmarks|bots|calls|chat|conversations|dialog|dnd|emoji|files|oauth|openid|pins|reactions|reminders|rtm|search|stars|team|usergroups|users|views|workflows';
/** `slack.chat.postMessage(`, `client.usergroups.users.list(`, `deps.slack.auth.test(`, and `apiCall('x.y')`. */
const CALL = new RegExp(`\\b(?:slack|client|web|webClient)\\s*\\.\\s*((?:${FAMILIES})(?:\\s*\\.\\s*[a-zA-Z]+){1,2})\\s*\\(`, 'g');
const API_CALL = /\bapiCall\(\s*['"]([a-zA-Z]+(?:\.[a-zA-Z]+)+)['"]/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

function methodsCalled(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of ['src', 'handlers', 'jobs'].flatMap((dir) => sourceFiles(join(REPO_ROOT, dir)))) {
    const text = readFileSync(file, 'utf8');
    for (const match of [...text.matchAll(CALL), ...text.matchAll(API_CALL)]) {
      const method = match[1]!.replace(/\s+/g, '');
      found.set(method, [...(found.get(method) ?? []), relative(REPO_ROOT, file)]);
    }
  }
  return found;
}

const manifest = parse(readFileSync(join(REPO_ROOT, 'manifest.yml'), 'utf8')) as {
  oauth_config: { scopes: { bot: string[] } };
  features: { app_home?: { home_tab_enabled?: boolean } };
  settings: { event_subscriptions?: { bot_events?: string[] } };
};

describe('the Slack scopes the manifest asks for', () => {
  const called = methodsCalled();

  it('finds the calls the code makes (the scan itself works)', () => {
    expect(called.get('chat.postMessage')).toEqual(expect.arrayContaining(['src/slack/announcement-poster.ts']));
    expect(called.has('usergroups.users.list')).toBe(true);
  });

  it('knows the scopes of every Web API method the code calls', () => {
    const unknown = [...called.keys()].filter((method) => !(method in SCOPES_BY_METHOD));
    expect(unknown, 'add these methods and their scopes to SCOPES_BY_METHOD in src/domain/slack-scopes.ts').toEqual([]);
  });

  it('lists the methods called in METHODS_CALLED, which the doctor checks against', () => {
    expect([...METHODS_CALLED].sort()).toEqual([...called.keys()].sort());
  });

  it('asks for exactly the scopes those methods need, plus the ones no method shows', () => {
    const needed = [...neededScopes(called.keys()).keys()].sort();
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(needed);
    expect(needed).toEqual(expect.arrayContaining(Object.keys(SCOPES_WITHOUT_METHOD)));
    expect(needed).not.toContain('users:read');
  });

  it('enables the Home tab and subscribes to the one event the bot listens for, app_home_opened', () => {
    const listened = [...readFileSync(join(REPO_ROOT, 'src/main.ts'), 'utf8').matchAll(/app\.event\(\s*'([a-z_]+)'/g)].map((m) => m[1]);

    expect(manifest.features.app_home?.home_tab_enabled).toBe(true);
    expect(listened).toEqual(['app_home_opened']);
    expect(manifest.settings.event_subscriptions?.bot_events).toEqual(listened);
  });
});
