// Bench child: the real bot with Docker targets on the real engine, for the job and load benches. It builds a fake
// Checkstack image pair in the local registry (the new tag pushed and removed locally, so the job really pulls it),
// runs the old one as the `prod` container (and, with BENCH_STAGING=1, a second `staging` one whose checklist the load
// bench clicks on), and starts the bot against the shared fake Slack. Without DOCKER_HOST it starts the bot with no
// target: the load bench then runs without an upgrade.
import type Dockerode from 'dockerode';
import type { GithubRelease } from '../src/domain/release-types.js';
import { startFakeGithub, type FakeGithub } from '../test/fakes/fake-github.js';
import {
  buildFakeCheckstackImage,
  createCheckstackContainer,
  dockerFromEnv,
  freePort,
  registryFromEnv,
  removeContainers,
  removeImages,
  removeVolumes,
  uniqueSuffix,
  type FakeBehaviour,
} from '../test/support/docker-images.js';
import { loadFixtureReleases } from '../test/support/fixtures.js';
import { waitForQueueIdle } from '../test/support/queues.js';
import { startTestBot, type TestBot } from '../test/support/test-bot.js';
import { benchLogDestination } from './bench-log.js';
import { requiredEnv, runChild } from './child-process.js';
import { APPROVER, FROM_VERSION, REQUESTER, TO_VERSION } from './upgrade-people.js';


export interface UpgradeBotReady {
  eventsUrl: string;
  botUrl: string;
  docker: boolean;
  /** Target names configured (`prod`, and `staging` with BENCH_STAGING=1). */
  targets: string[];
}

export interface StepRow {
  step: string;
  startedMs: number;
  finishedMs: number | null;
  outcome: string | null;
  detail: string | null;
}

export interface DockerEvent {
  action: string;
  name: string;
  timeMs: number;
}

const docker = dockerFromEnv();
const suffix = uniqueSuffix();
const repository = `ck-bench-${suffix}`;
const containers: string[] = [];
const images: string[] = [];
let github: FakeGithub | null = null;
let bot: TestBot | null = null;
const startedAt = Date.now();

function release(version: string, id: number): GithubRelease {
  const fixtures = loadFixtureReleases();
  return { ...fixtures[0]!, id, tag_name: `v${version}`, name: `Checkstack v${version}`, html_url: `https://github.com/enyineer/checkstack/releases/tag/v${version}`, published_at: '2026-11-01T00:00:00Z' };
}

async function dockerTargets(engine: Dockerode): Promise<{ yaml: string; names: string[] }> {
  const registry = registryFromEnv();
  const behaviour = (process.env.BENCH_NEW_BEHAVIOUR ?? 'ready') as FakeBehaviour;
  const readyAfterSeconds = Number(process.env.BENCH_READY_AFTER ?? '0');
  images.push(await buildFakeCheckstackImage(engine, { registry, repository, version: FROM_VERSION, behaviour: 'ready' }));
  const newRef = await buildFakeCheckstackImage(engine, { registry, repository, version: TO_VERSION, behaviour, readyAfterSeconds });
  images.push(newRef);
  // Pushed; gone locally, so the job's pull step downloads it from the registry as it would in production.
  await removeImages(engine, [newRef]);
  const names = process.env.BENCH_STAGING === '1' ? ['prod', 'staging'] : ['prod'];
  let yaml = 'targets:\n';
  for (const [i, target] of names.entries()) {
    const name = `ck-bench-${suffix}-${target}`;
    const port = await freePort();
    containers.push(name, `${name}-pre-${TO_VERSION}`);
    await createCheckstackContainer(engine, { name, image: `${registry}/${repository}:${FROM_VERSION}`, port, compose: { project: `ck-bench-${suffix}-${target}`, service: 'checkstack' } });
    yaml += `  - name: ${target}
    default: ${i === 0}
    baseUrl: http://127.0.0.1:${port}
    image: ${registry}/${repository}
    docker: { host: "${process.env.DOCKER_HOST}", container: ${name}, stopTimeout: 5 }
    postflight: { healthcheckMaxWait: 1, readyTimeout: ${Number(process.env.BENCH_READY_TIMEOUT ?? '30')}, logWatch: 5, retention: 3600 }
`;
  }
  return { yaml, names };
}

runChild<UpgradeBotReady>({
  async start() {
    const useDocker = docker !== null && process.env.BENCH_NO_DOCKER !== '1';
    const targets = useDocker ? await dockerTargets(docker) : { yaml: '', names: [] };
    github = await startFakeGithub({ releases: [release(TO_VERSION, 8030), ...loadFixtureReleases().filter((r) => r.tag_name !== `v${TO_VERSION}`)] });
    bot = await startTestBot({
      env: { SLACK_API_URL: requiredEnv('BENCH_SLACK_API_URL'), GITHUB_API_URL: github.url, RELEASE_POLL_INTERVAL: '3600', LOG_LEVEL: 'info' },
      configYaml: `approvers:\n  users: [${REQUESTER}, ${APPROVER}]\n${targets.yaml}`,
      logDestination: benchLogDestination(),
    });
    await waitForQueueIdle(bot.bot.deps.queues.releases, 60_000);
    return { eventsUrl: `${bot.bot.url}/slack/events`, botUrl: bot.bot.url, docker: useDocker, targets: targets.names };
  },
  answers: {
    rssMb: () => process.memoryUsage().rss / 2 ** 20,
    /** The steps of the newest upgrade of a target, with times in ms since the epoch. */
    steps: async (args): Promise<{ upgradeId: string; status: string; statusDetail: string | null; steps: StepRow[] } | null> => {
      const pool = bot!.bot.deps.pool;
      const { rows } = await pool.query<{ id: string; status: string; status_detail: string | null }>(
        `SELECT id, status, status_detail FROM upgrades WHERE target = $1 ORDER BY created_at DESC LIMIT 1`,
        [(args as { target: string }).target],
      );
      if (!rows[0]) return null;
      const steps = await pool.query<{ step: string; started_at: Date; finished_at: Date | null; outcome: string | null; detail: string | null }>(
        `SELECT step, started_at, finished_at, outcome, detail FROM upgrade_steps WHERE upgrade_id = $1 ORDER BY started_at`,
        [rows[0].id],
      );
      return {
        upgradeId: rows[0].id,
        status: rows[0].status,
        statusDetail: rows[0].status_detail,
        steps: steps.rows.map((r) => ({ step: r.step, startedMs: r.started_at.getTime(), finishedMs: r.finished_at?.getTime() ?? null, outcome: r.outcome, detail: r.detail })),
      };
    },
    /** What the engine did to the target's containers since this child started (stop, create, start …). */
    dockerEvents: async (): Promise<DockerEvent[]> => {
      if (!docker) return [];
      const stream = (await docker.getEvents({
        since: Math.floor(startedAt / 1000),
        until: Math.ceil(Date.now() / 1000),
        filters: { type: ['container'], container: containers },
      })) as unknown as NodeJS.ReadableStream;
      let text = '';
      for await (const chunk of stream) text += chunk.toString();
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { Action: string; Actor: { Attributes: { name: string } }; timeNano: number })
        .map((e) => ({ action: e.Action, name: e.Actor.Attributes.name, timeMs: e.timeNano / 1e6 }));
    },
  },
  async stop() {
    // Each part on its own: a bot that fails to stop (say, a job step mid-way) must not leave containers behind.
    const attempt = (what: string, work: () => Promise<unknown> | undefined) =>
      Promise.resolve()
        .then(work)
        .catch((err: unknown) => console.error(`upgrade-bot-server: ${what} failed`, err));
    // A job in its readiness step may take a while to reach a checkpoint: clean up after 20 s whatever happens.
    await attempt('stopping the bot', () =>
      Promise.race([bot?.close(), new Promise((_, reject) => setTimeout(() => reject(new Error('not stopped within 20 s')), 20_000).unref())]),
    );
    await attempt('stopping the fake GitHub', () => github?.close());
    if (docker) {
      await attempt('removing containers', () => removeContainers(docker, containers));
      await attempt('removing volumes', () => removeVolumes(docker, containers.map((c) => `${c}-data`)));
      await attempt('removing images', () => removeImages(docker, images));
    }
  },
});
