// The automatic-patch decision for a fleet: 50 targets (25 staging/prod pairs, windows in several zones) against
// 200 releases, decided from scratch as one release poll would. Pure CPU: no database, no queue.
import { decideAutoUpgrade, type AutoUpgradeInput, type AutoUpgradePolicy, type KnownRelease } from '../src/domain/auto-upgrade.js';
import { maintenanceWindowSchema } from '../src/domain/maintenance-window.js';
import type { VersionRun } from '../src/domain/promotion.js';
import { median } from './percentile.js';
import type { Report } from './report.js';

const HOUR = 3_600_000;
const ZONES = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Lord_Howe', 'UTC'];

export interface AutoUpgradeBenchOptions {
  polls?: number;
  targets?: number;
  releases?: number;
}

/** 40 minor lines of 5 releases each, one a day; every 7th a draft and every 11th a prerelease. */
function fleetReleases(count: number, now: Date): KnownRelease[] {
  return Array.from({ length: count }, (_, i) => {
    const minor = 100 + Math.floor(i / 5);
    const patch = i % 5;
    const prerelease = i % 11 === 10;
    return {
      version: prerelease ? `0.${minor}.${patch + 1}-rc.1` : `0.${minor}.${patch}`,
      draft: i % 7 === 6,
      prerelease,
      publishedAt: new Date(now.getTime() - (count - i) * 24 * HOUR + (i % 3) * HOUR),
    };
  });
}

function fleetInputs(targetCount: number, releases: KnownRelease[], now: Date): AutoUpgradeInput[] {
  const stable = releases.filter((r) => !r.draft && !r.prerelease);
  const evidence: VersionRun[] = [];
  const inputs: AutoUpgradeInput[] = [];
  for (let i = 0; i < targetCount; i++) {
    const pair = Math.floor(i / 2);
    const isProd = i % 2 === 1;
    const window = maintenanceWindowSchema.parse({ days: ['sat', 'sun'], from: isProd ? '02:00' : '22:00', to: isProd ? '05:00' : '01:00', timeZone: ZONES[pair % ZONES.length] });
    const policy: AutoUpgradePolicy = { patches: true, minimumReleaseAgeMs: 72 * HOUR, noticeMs: 10 * 60_000, window };
    // Staging runs the first patch of a recent line; its prod runs the line's .0.
    const line = stable.length - 5 - (pair % 20) * 5;
    const running = stable[Math.max(0, isProd ? line : line + 1)]!.version;
    if (!isProd) {
      // Staging ran each later patch of its line for a while: the promotion evidence prod is judged on.
      stable.slice(line + 1, line + 5).forEach((release, k) =>
        evidence.push({ target: `staging-${pair}`, version: release.version, since: new Date(now.getTime() - (40 - k * 9) * HOUR), until: null, result: k === 2 ? 'rolled_back' : 'succeeded', postflight: 'passed' }),
      );
    }
    inputs.push({
      target: isProd ? `prod-${pair}` : `staging-${pair}`,
      policy,
      promotion: isProd ? { from: `staging-${pair}`, soakMs: 24 * HOUR } : null,
      running,
      paused: pair % 10 === 9 && isProd ? { since: new Date(now.getTime() - 5 * HOUR), cause: 'failed_upgrade', version: running, upgradeId: null } : null,
      releases,
      evidence,
      declined: [],
      busy: null,
      scheduled: null,
      now,
    });
  }
  return inputs;
}

export function autoUpgradeDecideBench(report: Report, options: AutoUpgradeBenchOptions = {}): void {
  const polls = options.polls ?? 50;
  const now = new Date('2026-01-30T12:00:00Z');
  const releases = fleetReleases(options.releases ?? 200, now);
  const inputs = fleetInputs(options.targets ?? 50, releases, now);

  const decide = () => inputs.map((input) => decideAutoUpgrade(input));
  const actions = decide().map((d) => d.action); // untimed: warms up the zone data and the regular expressions
  const perPoll: number[] = [];
  for (let poll = 0; poll < polls; poll += 1) {
    const started = performance.now();
    decide();
    perPoll.push(performance.now() - started);
  }

  report.add('auto_upgrade_targets', inputs.length, 'count');
  report.add('auto_upgrade_releases', releases.length, 'count');
  report.add('auto_upgrade_decide_ms_per_poll', median(perPoll), 'ms');
  report.add('auto_upgrade_decide_ms_per_poll_max', Math.max(...perPoll), 'ms');
  report.note('auto_upgrade_actions', Object.fromEntries([...new Set(actions)].map((a) => [a, actions.filter((b) => b === a).length])));
}
