// Acknowledgement latency: the real bot and a bare Bolt app, each in its own process, take the same signed requests
// at a steady open-loop rate from `steady-load.ts` in this process. The two alternate in short slices, so a neighbour
// that loads the machine for a while weighs on both alike; figures for both, and how far the bot is from the baseline.
import { loadavg } from 'node:os';
import { BOT_TOKEN, SIGNING_SECRET } from '../test/support/test-bot.js';
import { ACK_SCENARIOS, type AckScenario, type SignedRequest } from './ack-requests.js';
import type { ServerReady } from './bot-server.js';
import { startChild, stopChildren, type BenchChild } from './child-process.js';
import type { FakeSlackReady, ReplySummary } from './fake-slack-server.js';
import { percentile } from './percentile.js';
import type { Report } from './report.js';
import { steadyLoad, type SteadyLoadResult } from './steady-load.js';

export interface AckLatencyOptions {
  rate?: number;
  /** Measured seconds per server and scenario, split into slices. */
  durationSeconds?: number;
  sliceSeconds?: number;
  /** A short run first, so JIT, connection pools and Bolt's auth.test are warm. */
  warmupSeconds?: number;
  /** Full measurements per scenario; the median one (by p99 ratio) is reported. */
  rounds?: number;
  scenarios?: readonly AckScenario[];
}

const SERVERS = ['bot', 'baseline'] as const;
type ServerName = (typeof SERVERS)[number];

interface Measured {
  latenciesMs: number[];
  responses: number;
  errors: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  rates: number[];
  cpuMs: number;
  replies: ReplySummary;
}

export async function ackLatencyBench(report: Report, options: AckLatencyOptions = {}): Promise<void> {
  const rate = options.rate ?? 100;
  const durationSeconds = options.durationSeconds ?? 20;
  const sliceSeconds = Math.min(options.sliceSeconds ?? 5, durationSeconds);
  const warmupSeconds = options.warmupSeconds ?? 3;
  const roundCount = options.rounds ?? 3;
  const children: BenchChild<unknown>[] = [];
  try {
    const secrets = { BENCH_SIGNING_SECRET: SIGNING_SECRET, BENCH_BOT_TOKEN: BOT_TOKEN };
    const slack = await startChild<FakeSlackReady>('fake-slack-server', { env: secrets });
    children.push(slack);
    const env = { ...secrets, BENCH_SLACK_API_URL: slack.ready.apiUrl };
    // Both servers stay up for the whole run; one of them takes load at a time.
    const started = await Promise.allSettled([
      startChild<ServerReady>('bot-server', { env, asShipped: true }),
      startChild<ServerReady>('bare-bolt-server', { env }),
    ]);
    for (const s of started) if (s.status === 'fulfilled') children.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [bot, baseline] = started.map((s) => (s as PromiseFulfilledResult<BenchChild<ServerReady>>).value) as [
      BenchChild<ServerReady>,
      BenchChild<ServerReady>,
    ];
    const servers: Record<ServerName, BenchChild<ServerReady>> = { bot, baseline };
    report.note('ack_loadavg_before', loadavg());

    /** One measurement: `durationSeconds` per server in alternating slices, with fresh signed requests. */
    const measureRound = async (scenario: AckScenario): Promise<Record<ServerName, Measured>> => {
      // One fixed signed body per server (the response_urls differ, so replies are counted apart); signed now, its
      // timestamp stays inside Bolt's 5-minute window for the whole round.
      const requests = {} as Record<ServerName, SignedRequest>;
      for (const name of SERVERS) requests[name] = await slack.ask<SignedRequest>('request', { scenario });
      const runs: Record<ServerName, SteadyLoadResult[]> = { bot: [], baseline: [] };
      const cpuBefore = { bot: await bot.ask<number>('cpu'), baseline: await baseline.ask<number>('cpu') };
      for (let slice = 0; slice * sliceSeconds < durationSeconds; slice += 1) {
        const order = slice % 2 === 0 ? SERVERS : [...SERVERS].reverse();
        for (const name of order) {
          const { body, headers } = requests[name];
          const seconds = Math.min(sliceSeconds, durationSeconds - slice * sliceSeconds);
          runs[name].push(await steadyLoad({ url: servers[name].ready.eventsUrl, body, headers, rate, durationSeconds: seconds }));
        }
      }
      // Replies are sent after the ack; give the last ones a moment to land.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const measured = {} as Record<ServerName, Measured>;
      for (const name of SERVERS) {
        const cpuMs = (await servers[name].ask<number>('cpu')) - cpuBefore[name];
        const replies = await slack.ask<ReplySummary>('replies', { responseUrl: requests[name].responseUrl });
        measured[name] = merge(runs[name], cpuMs, replies);
      }
      return measured;
    };

    for (const scenario of options.scenarios ?? ACK_SCENARIOS) {
      for (const name of SERVERS) {
        const warmup = await slack.ask<SignedRequest>('request', { scenario });
        await steadyLoad({ url: servers[name].ready.eventsUrl, body: warmup.body, headers: warmup.headers, rate, durationSeconds: warmupSeconds });
      }
      const rounds: Record<ServerName, Measured>[] = [];
      for (let round = 0; round < roundCount; round += 1) rounds.push(await measureRound(scenario));
      // A p99 is the 20th slowest of 2,000: one stray pause of the machine moves it. Each round is the full
      // measurement; the one with the median bot/baseline ratio gives the headline figures, and every round's
      // ratio is printed beside it.
      const ratios = rounds.map((m) => percentile(m.bot.latenciesMs, 99) / percentile(m.baseline.latenciesMs, 99));
      const median = [...ratios.keys()].sort((a, b) => ratios[a]! - ratios[b]!)[Math.floor(ratios.length / 2)]!;
      reportScenario(report, scenario, rounds[median]!);
      ratios.forEach((ratio, i) => report.add(`ack_${scenario}_round${i + 1}_p99_ratio`, ratio, 'x'));
    }
    report.note('ack_loadavg_after', loadavg());
  } finally {
    await stopChildren(children);
  }
}

function merge(runs: SteadyLoadResult[], cpuMs: number, replies: ReplySummary): Measured {
  const statusCodes: Record<string, number> = {};
  for (const run of runs) for (const [code, n] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  return {
    latenciesMs: runs.flatMap((r) => r.latenciesMs),
    responses: Object.values(statusCodes).reduce((sum, n) => sum + n, 0),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
    statusCodes,
    rates: runs.map((r) => r.achievedRate),
    cpuMs,
    replies,
  };
}

function reportScenario(report: Report, scenario: AckScenario, measured: Record<ServerName, Measured>): void {
  const prefix = `ack_${scenario}`;
  const p = (name: ServerName, q: number) => percentile(measured[name].latenciesMs, q);
  for (const name of SERVERS) {
    const tag = name === 'bot' ? prefix : `${prefix}_baseline`;
    const m = measured[name];
    report.add(`${tag}_p50`, p(name, 50), 'ms');
    report.add(`${tag}_p99`, p(name, 99), 'ms');
    report.add(`${tag}_max`, p(name, 100), 'ms');
    report.add(`${tag}_responses`, m.responses, 'count');
    report.add(`${tag}_rate`, m.rates.reduce((sum, r) => sum + r, 0) / Math.max(m.rates.length, 1), 'req/s');
    report.add(`${tag}_errors`, m.errors, 'count');
    report.add(`${tag}_non2xx`, m.non2xx, 'count');
    report.add(`${tag}_replies`, m.replies.count, 'count');
    // CPU the server process spent per answered request, ack and the work after it: steadier than latency on a
    // shared machine.
    report.add(`${tag}_cpu_per_request`, m.responses > 0 ? m.cpuMs / m.responses : Number.NaN, 'ms');
    report.note(`${tag}_status_codes`, m.statusCodes);
    report.note(`${tag}_reply_text`, m.replies.firstText);
  }
  report.add(`${prefix}_p50_ratio`, p('bot', 50) / p('baseline', 50), 'x');
  report.add(`${prefix}_p99_ratio`, p('bot', 99) / p('baseline', 99), 'x');
}
