// Mixed signed traffic at 200 requests/s for 60 s (per server) while an upgrade runs: `/checkstack help`,
// `/checkstack status` (which asks the target over HTTP), `/checkstack releases 5` and confirmation clicks on a real
// pending checklist (already confirmed: the idempotent double-click path), to the bot and to a bare Bolt app in
// alternating slices of the same run. Errors, ack latency, the ratio to the baseline, and the bot's memory after.
import { loadavg } from 'node:os';
import { BOT_TOKEN, SIGNING_SECRET } from '../test/support/test-bot.js';
import type { SignedRequest } from './ack-requests.js';
import type { ServerReady } from './bot-server.js';
import { startChild, stopChildren, type BenchChild } from './child-process.js';
import type { FakeSlackReady, PlannedUpgrade } from './fake-slack-server.js';
import { percentile } from './percentile.js';
import type { Report } from './report.js';
import { steadyLoad, type SteadyLoadResult } from './steady-load.js';
import type { StepRow, UpgradeBotReady } from './upgrade-bot-server.js';
import { APPROVER, REQUESTER, TO_VERSION, UPGRADE_CHANNEL } from './upgrade-people.js';

export interface LoadBenchOptions {
  rate?: number;
  /** Measured seconds per server, split into slices that alternate between the bot and the baseline. */
  durationSeconds?: number;
  sliceSeconds?: number;
  warmupSeconds?: number;
}

const COMMANDS = ['help', 'status', 'releases 5'];

export async function loadBench(report: Report, options: LoadBenchOptions = {}): Promise<void> {
  const rate = options.rate ?? 200;
  const durationSeconds = options.durationSeconds ?? 60;
  const sliceSeconds = options.sliceSeconds ?? 10;
  const warmupSeconds = options.warmupSeconds ?? 3;
  const children: BenchChild<unknown>[] = [];
  try {
    const secrets = { BENCH_SIGNING_SECRET: SIGNING_SECRET, BENCH_BOT_TOKEN: BOT_TOKEN };
    const slack = await startChild<FakeSlackReady>('fake-slack-server', { env: secrets });
    children.push(slack);
    const env = { ...secrets, BENCH_SLACK_API_URL: slack.ready.apiUrl };
    const started = await Promise.allSettled([
      // The new image answers 503 for 10 minutes: the job sits in readiness polling for the whole run.
      startChild<UpgradeBotReady>('upgrade-bot-server', {
        env: { ...env, BENCH_STAGING: '1', BENCH_NEW_BEHAVIOUR: 'slow-ready', BENCH_READY_AFTER: '600', BENCH_READY_TIMEOUT: '900' },
        readyTimeoutMs: 300_000,
        asShipped: true,
      }),
      startChild<ServerReady>('bare-bolt-server', { env }),
    ]);
    for (const s of started) if (s.status === 'fulfilled') children.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const bot = (started[0] as PromiseFulfilledResult<BenchChild<UpgradeBotReady>>).value;
    const baseline = (started[1] as PromiseFulfilledResult<BenchChild<ServerReady>>).value;

    let clickOn: PlannedUpgrade | null = null;
    if (bot.ready.docker) {
      await slack.ask<PlannedUpgrade>('planUpgrade', { botUrl: bot.ready.botUrl, text: `upgrade ${TO_VERSION} prod`, requester: REQUESTER, approver: APPROVER, channel: UPGRADE_CHANNEL, start: true });
      await waitForStep(bot, 'prod', 'readiness');
      // A second target's checklist stays pending: its confirmations, already given, are clicked again and again.
      clickOn = await slack.ask<PlannedUpgrade>('planUpgrade', { botUrl: bot.ready.botUrl, text: `upgrade ${TO_VERSION} staging`, requester: REQUESTER, approver: APPROVER, channel: UPGRADE_CHANNEL, start: false });
    } else {
      process.stderr.write('load: no DOCKER_HOST, so no upgrade runs during the load and clicks go to a checklist of an upgrade that does not exist\n');
    }
    report.note('load_upgrade_running', bot.ready.docker);

    const mix = async (botUrl: string): Promise<SignedRequest[]> => {
      const requests: SignedRequest[] = [];
      for (const command of COMMANDS) requests.push(await slack.ask<SignedRequest>('loadRequest', { botUrl, command }));
      if (clickOn) {
        const actionId = clickOn.confirmActionIds[0]!;
        requests.push(await slack.ask<SignedRequest>('loadRequest', { botUrl, click: { channel: clickOn.channel, ts: clickOn.ts, actionId, user: APPROVER } }));
      } else {
        requests.push(await slack.ask<SignedRequest>('request', { scenario: 'click' }));
      }
      return requests;
    };
    const servers = { bot: { url: bot.ready.eventsUrl, requests: await mix(bot.ready.botUrl) }, baseline: { url: baseline.ready.eventsUrl, requests: await mix(bot.ready.botUrl) } };
    for (const server of Object.values(servers)) await steadyLoad({ url: server.url, body: '', headers: {}, requests: server.requests, rate, durationSeconds: warmupSeconds });

    report.note('load_loadavg_before', loadavg());
    const runs: Record<'bot' | 'baseline', SteadyLoadResult[]> = { bot: [], baseline: [] };
    for (let slice = 0; slice * sliceSeconds < durationSeconds; slice += 1) {
      const seconds = Math.min(sliceSeconds, durationSeconds - slice * sliceSeconds);
      for (const name of slice % 2 === 0 ? (['bot', 'baseline'] as const) : (['baseline', 'bot'] as const)) {
        runs[name].push(await steadyLoad({ url: servers[name].url, body: '', headers: {}, requests: servers[name].requests, rate, durationSeconds: seconds }));
      }
    }
    report.note('load_loadavg_after', loadavg());
    const rss = await bot.ask<number>('rssMb');
    const upgrade = bot.ready.docker ? await bot.ask<{ status: string; steps: StepRow[] } | null>('steps', { target: 'prod' }) : null;

    const latencies = (name: 'bot' | 'baseline') => runs[name].flatMap((r) => r.latenciesMs);
    const errors = (name: 'bot' | 'baseline') => runs[name].reduce((sum, r) => sum + r.errors + r.non2xx, 0);
    const bot50 = percentile(latencies('bot'), 50);
    const bot99 = percentile(latencies('bot'), 99);
    const base99 = percentile(latencies('baseline'), 99);
    report.add('load_requests', latencies('bot').length + errors('bot'), 'count');
    report.add('load_errors', errors('bot'), 'count');
    report.add('load_p50_ms', bot50, 'ms');
    report.add('load_p99_ms', bot99, 'ms');
    report.add('load_baseline_errors', errors('baseline'), 'count');
    report.add('load_baseline_p50_ms', percentile(latencies('baseline'), 50), 'ms');
    report.add('load_baseline_p99_ms', base99, 'ms');
    report.add('load_p99_ratio', bot99 / base99, 'x');
    report.add('load_rss_mb', rss, 'MB');
    const readiness = upgrade?.steps.find((s) => s.step === 'readiness');
    // 1 when the upgrade was still in its readiness step when the load ended, as intended.
    report.add('load_upgrade_in_readiness', upgrade?.status === 'running' && readiness !== undefined && readiness.finishedMs === null ? 1 : 0, 'count');
    report.note('load_status_codes', Object.fromEntries((['bot', 'baseline'] as const).map((n) => [n, runs[n].map((r) => r.statusCodes)])));
    report.note('load_rates', Object.fromEntries((['bot', 'baseline'] as const).map((n) => [n, runs[n].map((r) => r.achievedRate)])));
  } finally {
    await stopChildren(children, 120_000);
  }
}

async function waitForStep(bot: BenchChild<UpgradeBotReady>, target: string, step: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const upgrade = await bot.ask<{ status: string; statusDetail: string | null; steps: StepRow[] } | null>('steps', { target });
    if (upgrade?.steps.some((s) => s.step === step)) return;
    if (upgrade && ['succeeded', 'failed', 'cancelled', 'expired', 'rolled_back'].includes(upgrade.status)) {
      const failedStep = upgrade.steps.find((s) => s.outcome === 'failed');
      throw new Error(`the upgrade ended (${upgrade.status}: ${upgrade.statusDetail ?? 'no detail'}; ${failedStep ? `${failedStep.step} failed: ${failedStep.detail}` : 'no step failed'}) before ${step}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the upgrade did not reach ${step} within ${timeoutMs} ms`);
}
