import { describe, expect, it } from 'vitest';
import type { AutoUpgradePolicy } from '../../src/domain/auto-upgrade.js';
import { maintenanceWindowSchema } from '../../src/domain/maintenance-window.js';
import { releaseOutlook, type OutlookTarget } from '../../src/domain/release-outlook.js';
import { ConfigError, loadConfig, type ConfigProblem } from '../../src/config.js';
import { AUTO_UPGRADE_CANCEL_ACTION, autoUpgradeStatusLine, noticeMessage, outlookBlock, pausedText } from '../../src/slack/auto-upgrade-words.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = new Date('2026-01-30T12:00:00Z'); // Friday
const WEEKEND = maintenanceWindowSchema.parse({ days: ['sat', 'sun'], from: '02:00', to: '05:00', timeZone: 'Europe/Berlin' });
const AUTO: AutoUpgradePolicy = { patches: true, minimumReleaseAgeMs: 72 * HOUR, noticeMs: 10 * MINUTE, window: WEEKEND };
const STAGING: OutlookTarget = { name: 'staging', autoUpgrade: AUTO, promotion: null, running: '0.30.0', paused: null };
const PROD: OutlookTarget = { name: 'prod', autoUpgrade: AUTO, promotion: { from: 'staging', soakMs: 24 * HOUR }, running: '0.30.0', paused: null };

function lines(version: string, targets: OutlookTarget[]): string {
  const outlooks = releaseOutlook({ release: { version, prerelease: false, publishedAt: new Date(NOW.getTime() - 80 * HOUR) }, targets, evidence: [], now: NOW });
  const block = outlookBlock(outlooks, NOW) as { text: { text: string } };
  return block.text.text;
}

describe('what an announcement says will happen where', () => {
  it('a patch: staging automatic in tonight\'s window; prod after 24 h on staging', () => {
    const text = lines('0.30.1', [STAGING, PROD]);
    expect(text).toContain("• *staging*: automatic, in tonight's window (sat 2026-01-31 02:00 Europe/Berlin (2026-01-31 01:00 UTC))");
    expect(text).toContain('• *prod*: after 24 h on staging, automatic in a later window (sun 2026-02-01 02:00 Europe/Berlin');
  });

  it('a minor: every target needs a checklist, and prod still waits on staging', () => {
    const text = lines('0.31.0', [STAGING, PROD]);
    expect(text).toContain('• *staging*: minor — needs a checklist');
    expect(text).toContain('• *prod*: minor — needs a checklist (after 24 h on staging)');
  });

  it('no section at all without targets; as many lines as fit in 1,500 characters (at most 20), then how many more', () => {
    expect(outlookBlock([], NOW)).toBeNull();
    const many = Array.from({ length: 25 }, (_, i) => ({ ...STAGING, name: `t${i}` }));
    expect(lines('0.30.1', many)).toMatch(/\+\d+ more targets$/);
    expect(lines('0.30.1', many).length).toBeLessThanOrEqual(1500);
  });
});

describe('the notice and the pause', () => {
  it('the notice names the versions, the start in the window\'s zone, and carries the Cancel button with the key', () => {
    const message = noticeMessage({ target: 'prod', from: '0.30.0', version: '0.30.2', startAt: new Date('2026-01-31T01:00:00Z'), noticeMs: 10 * MINUTE, skipping: ['0.30.1'], key: 'auto@prod@0.30.2@20260130T120000Z', window: WEEKEND });
    expect(message.text).toContain('Automatic patch upgrade of `prod` from `0.30.0` to `0.30.2` (past `0.30.1`) starts at sat 2026-01-31 02:00 Europe/Berlin');
    expect(JSON.stringify(message.blocks)).toContain(`"action_id":"${AUTO_UPGRADE_CANCEL_ACTION}"`);
    expect(JSON.stringify(message.blocks)).toContain('"value":"auto@prod@0.30.2@20260130T120000Z"');
  });

  it('the paused reply says how to resume', () => {
    expect(pausedText('staging', '0.30.2')).toMatch(/`\/checkstack resume staging`/);
  });
});

describe('a target\'s `channel` (where its automatic upgrade notices go)', () => {
  const env = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret' };
  const yaml = (channel: string) => `targets:\n  - name: prod\n    baseUrl: http://127.0.0.1:8080\n    docker: { container: checkstack }\n    channel: ${channel}\n`;

  it('takes a Slack channel id', () => {
    expect(loadConfig({ env, readFile: () => yaml('C0OPS') }).targets[0]!.channel).toBe('C0OPS');
  });

  it('refuses a channel name, naming the key', () => {
    let problems: ConfigProblem[] = [];
    try {
      loadConfig({ env, readFile: () => yaml('"#ops"') });
    } catch (err) {
      if (err instanceof ConfigError) problems = err.problems;
    }
    expect(problems).toContainEqual(expect.objectContaining({ key: 'targets[0].channel', message: expect.stringMatching(/Slack channel id/) }));
  });
});

describe('the status line of automatic patches', () => {
  const window = maintenanceWindowSchema.parse({ days: ['sat'], from: '02:00', to: '05:00', timeZone: 'Europe/Berlin' });
  it('a pause wins over a plan and says how to lift it', () => {
    const line = autoUpgradeStatusLine({ paused: { version: '0.30.1', since: NOW }, planned: { version: '0.30.2', noticeAt: NOW, startAt: NOW, noticePosted: false }, window }, 'prod');
    expect(line).toBe('⏸️ Automatic patches: *paused* since the automatic upgrade to `0.30.1` failed (2026-01-30 12:00 UTC); `/checkstack resume prod` lifts it.');
  });
  it('a plan names its version, start and notice in the window\'s zone and in UTC', () => {
    const startAt = new Date('2026-01-31T01:00:00Z');
    const noticeAt = new Date('2026-01-31T00:50:00Z');
    expect(autoUpgradeStatusLine({ paused: null, planned: { version: '0.30.2', noticeAt, startAt, noticePosted: false }, window }, 'prod')).toBe(
      '🗓️ Automatic patch: `0.30.2` starts sat 2026-01-31 02:00 Europe/Berlin (2026-01-31 01:00 UTC) (notice at sat 2026-01-31 01:50 Europe/Berlin (2026-01-31 00:50 UTC)).',
    );
    expect(autoUpgradeStatusLine({ paused: null, planned: { version: '0.30.2', noticeAt, startAt, noticePosted: true }, window: null }, 'prod')).toBe('🗓️ Automatic patch: `0.30.2` starts 2026-01-31 01:00 UTC (notice posted).');
  });
  it('with nothing planned says automatic patches are on', () => {
    expect(autoUpgradeStatusLine({ paused: null, planned: null, window: null }, 'prod')).toBe('🗓️ Automatic patches: on; nothing planned.');
  });
});
