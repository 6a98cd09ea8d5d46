// A profiling aid, not a bench part: one server (`bot` or `baseline`) under the ack bench's steady load for a while,
// with its latency percentiles and the child's event-loop delay and memory. Add Node flags to the server child with
// BENCH_NODE_ARGS, e.g. `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" node --import tsx bench/profile-ack.ts bot 20 help`.
import { BOT_TOKEN, SIGNING_SECRET } from '../test/support/test-bot.js';
import type { AckScenario, SignedRequest } from './ack-requests.js';
import type { ServerReady } from './bot-server.js';
import { startChild, stopChildren, type BenchChild, type ChildStats } from './child-process.js';
import type { FakeSlackReady } from './fake-slack-server.js';
import { percentile } from './percentile.js';
import { steadyLoad } from './steady-load.js';

const [server = 'bot', seconds = '20', scenario = 'help', rate = '100'] = process.argv.slice(2);
const children: BenchChild<unknown>[] = [];
try {
  const secrets = { BENCH_SIGNING_SECRET: SIGNING_SECRET, BENCH_BOT_TOKEN: BOT_TOKEN };
  const slack = await startChild<FakeSlackReady>('fake-slack-server', { env: secrets, execArgv: [] });
  children.push(slack);
  const target = await startChild<ServerReady>(server === 'bot' ? 'bot-server' : 'bare-bolt-server', {
    env: { ...secrets, BENCH_SLACK_API_URL: slack.ready.apiUrl },
    asShipped: server === 'bot',
  });
  children.push(target);
  const warm = await slack.ask<SignedRequest>('request', { scenario: scenario as AckScenario });
  await steadyLoad({ url: target.ready.eventsUrl, body: warm.body, headers: warm.headers, rate: Number(rate), durationSeconds: 3 });
  console.log('before', JSON.stringify(await target.ask<ChildStats>('stats')));
  const cpu0 = await target.ask<number>('cpu');
  const req = await slack.ask<SignedRequest>('request', { scenario: scenario as AckScenario });
  const res = await steadyLoad({ url: target.ready.eventsUrl, body: req.body, headers: req.headers, rate: Number(rate), durationSeconds: Number(seconds) });
  const cpu = (await target.ask<number>('cpu')) - cpu0;
  const stats = await target.ask<ChildStats>('stats');
  const l = res.latenciesMs;
  console.log(
    JSON.stringify({
      server,
      scenario,
      n: l.length,
      errors: res.errors,
      p50: percentile(l, 50),
      p90: percentile(l, 90),
      p99: percentile(l, 99),
      max: percentile(l, 100),
      cpuPerRequest: cpu / Math.max(1, l.length),
      ...stats,
    }),
  );
} finally {
  await stopChildren(children);
}
