// The upgrade job's own overhead on the real Docker engine and the local registry: an upgrade of a fake Checkstack
// clicked through as people would, then its steps' times from Postgres and the engine's events for the container.
// overhead = (end of the last step - start of the first) - pull - container stop/create/start - readiness - post-flight.
import { BOT_TOKEN, SIGNING_SECRET } from '../test/support/test-bot.js';
import { startChild, stopChildren, type BenchChild } from './child-process.js';
import type { FakeSlackReady, PlannedUpgrade } from './fake-slack-server.js';
import type { Report } from './report.js';
import type { DockerEvent, StepRow, UpgradeBotReady } from './upgrade-bot-server.js';
import { APPROVER, REQUESTER, TO_VERSION, UPGRADE_CHANNEL } from './upgrade-people.js';

export async function jobOverheadBench(report: Report): Promise<void> {
  if (!process.env.DOCKER_HOST) {
    process.stdout.write('job_overhead: skipped (no DOCKER_HOST)\n');
    report.note('job_overhead', 'skipped (no DOCKER_HOST)');
    return;
  }
  const children: BenchChild<unknown>[] = [];
  try {
    const secrets = { BENCH_SIGNING_SECRET: SIGNING_SECRET, BENCH_BOT_TOKEN: BOT_TOKEN };
    const slack = await startChild<FakeSlackReady>('fake-slack-server', { env: secrets });
    children.push(slack);
    const bot = await startChild<UpgradeBotReady>('upgrade-bot-server', {
      env: { ...secrets, BENCH_SLACK_API_URL: slack.ready.apiUrl, BENCH_NEW_BEHAVIOUR: 'ready' },
      readyTimeoutMs: 300_000,
      asShipped: true,
    });
    children.push(bot);
    const planned = await slack.ask<PlannedUpgrade>('planUpgrade', {
      botUrl: bot.ready.botUrl, text: `upgrade ${TO_VERSION} prod`, requester: REQUESTER, approver: APPROVER, channel: UPGRADE_CHANNEL, start: true,
    });
    const deadline = Date.now() + 180_000;
    let ending: string | undefined;
    while (Date.now() < deadline) {
      const text = await slack.ask<string | null>('messageText', { channel: planned.channel, ts: planned.ts });
      ending = /: (succeeded|failed|rolled back|cancelled|expired)$/.exec(text ?? '')?.[1];
      if (ending) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (ending !== 'succeeded') throw new Error(`the bench upgrade did not succeed (${ending ?? 'still running after 180 s'})`);
    const result = await bot.ask<{ upgradeId: string; status: string; steps: StepRow[] } | null>('steps', { target: 'prod' });
    if (!result) throw new Error('no upgrade row');
    const events = await bot.ask<DockerEvent[]>('dockerEvents');
    reportJob(report, result.steps, events);
  } finally {
    await stopChildren(children, 120_000);
  }
}

function reportJob(report: Report, steps: StepRow[], events: DockerEvent[]): void {
  const duration = (name: string) => {
    const s = steps.find((row) => row.step === name);
    return s && s.finishedMs !== null ? s.finishedMs - s.startedMs : 0;
  };
  const first = Math.min(...steps.map((s) => s.startedMs));
  const last = Math.max(...steps.map((s) => s.finishedMs ?? s.startedMs));
  const total = last - first;
  const recreate = steps.find((s) => s.step === 'recreate')!;
  // The container's own part of recreate, from the engine's events inside the step: stopping the old container
  // (kill → stop), creating and starting the new one (create → start), and the deployer's startup grace (start → end
  // of the step: it watches the new container for a crash before it calls the start good).
  const inRecreate = events.filter((e) => e.timeMs >= recreate.startedMs - 5 && e.timeMs <= (recreate.finishedMs ?? Infinity) + 5);
  const at = (action: string) => inRecreate.find((e) => e.action === action || e.action.startsWith(`${action}:`))?.timeMs;
  const kill = at('kill');
  const stop = at('stop');
  const create = at('create');
  const start = at('start');
  const stopMs = kill !== undefined && stop !== undefined ? stop - kill : 0;
  const startMs = create !== undefined && start !== undefined ? start - create : 0;
  const graceMs = start !== undefined && recreate.finishedMs !== null ? recreate.finishedMs - start : 0;
  const pull = duration('pull');
  const readiness = duration('readiness');
  const postflight = duration('postflight');
  const containerMs = stopMs + startMs + graceMs;
  report.add('job_total_ms', total, 'ms');
  report.add('job_pull_ms', pull, 'ms');
  report.add('job_recreate_ms', duration('recreate'), 'ms');
  report.add('job_recreate_stop_ms', stopMs, 'ms');
  report.add('job_recreate_start_ms', startMs, 'ms');
  report.add('job_recreate_startup_grace_ms', graceMs, 'ms');
  report.add('job_readiness_ms', readiness, 'ms');
  report.add('job_postflight_ms', postflight, 'ms');
  report.add('job_overhead_ms', total - pull - containerMs - readiness - postflight, 'ms');
  // The stricter reading: only create → start counts as the container's start; stopping the old one and the
  // startup grace count as the job's.
  report.add('job_overhead_strict_ms', total - pull - startMs - readiness - postflight, 'ms');
  report.note('job_steps', steps.map((s) => ({ step: s.step, startAtMs: s.startedMs - first, endAtMs: s.finishedMs === null ? null : s.finishedMs - first, ms: s.finishedMs === null ? null : s.finishedMs - s.startedMs, outcome: s.outcome })));
  // Between one step's end and the next one's start: the thread message updates and the job's bookkeeping.
  report.add('job_between_steps_ms', total - steps.reduce((sum, s) => sum + (s.finishedMs === null ? 0 : s.finishedMs - s.startedMs), 0), 'ms');
  report.note('job_docker_events', events.map((e) => ({ action: e.action, name: e.name, atMs: Math.round(e.timeMs - first) })));
}
