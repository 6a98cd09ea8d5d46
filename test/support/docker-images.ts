// Real-engine helpers for the Docker tests: fake Checkstack images (busybox on `FROM scratch`) pushed to the
// local registry, and containers set up the way an operator runs Checkstack.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Readable } from 'node:stream';
import Dockerode from 'dockerode';

/** The host's static busybox (Debian package `busybox-static`); it is the whole userland of the fake image. */
export const HOST_BUSYBOX = '/bin/busybox';

/** A Dockerode for `DOCKER_HOST`, or null when it is unset so suites can `describe.skipIf`. */
export function dockerFromEnv(env: NodeJS.ProcessEnv = process.env): Dockerode | null {
  const host = env.DOCKER_HOST;
  if (!host) return null;
  if (host.startsWith('unix://')) return new Dockerode({ socketPath: host.slice('unix://'.length) });
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Dockerode({ protocol: 'http', host: url.hostname, port: Number(url.port || 2375) });
}

/** The local registry the CI script and `.ci/docker-up.sh` start. */
export function registryFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHECKSTACK_TEST_REGISTRY ?? '127.0.0.1:5000';
}

/**
 * `noisy`: serves like `ready`, and logs like a sick Checkstack: at start a winston-style `error:` line and a `FATAL`
 * line that quotes `ENCRYPTION_MASTER_KEY` (the log watch must mask it), then `error: tick N` every second; with
 * `crashAfterSeconds` it exits with code 1 after that long, so a restart policy restarts it.
 * `exit-printing-secrets`: exits on start like `exit-on-start`, but first prints its whole environment and its
 * `ENCRYPTION_MASTER_KEY`, once as an assignment and once bare, as a careless start script would (the bot must
 * not forward any of it).
 * `era-0.31`: a release before the platform endpoints (shared/checkstack-api.md "Older releases"): the UI's page on
 * every path but `/api/*` (`/api/about` is 500), `✅ Checkstack Core initialized.` logged only `initAfterSeconds` after
 * start, and any request before that line answered and then fatal: the process exits with code 1, logging the
 * request that killed it.
 */
export type FakeBehaviour = 'ready' | 'slow-ready' | 'never-ready' | 'exit-on-start' | 'noisy' | 'exit-printing-secrets' | 'era-0.31';

/** What an `era-0.31` container logs when a request killed it: the tests look for it. */
export const EARLY_REQUEST_LOG = 'request before init';

export interface FakeImageOptions {
  registry: string;
  repository: string;
  version: string;
  behaviour: FakeBehaviour;
  /** For `slow-ready`: seconds of 503 after start. */
  readyAfterSeconds?: number;
  /** For `never-ready`: the `error` its readiness answer gives (ASCII, no quotes; default `database connection refused`). */
  readyError?: string;
  /** For `era-0.31`: seconds from start to `Checkstack Core initialized` (default 5). */
  initAfterSeconds?: number;
  /** For `noisy`: exit with code 1 this many seconds after start (default: never). */
  crashAfterSeconds?: number;
  /** Push to the registry (default true); the local copy is kept either way. */
  push?: boolean;
}

/** What every fake image declares, so tests can tell old-image defaults from new-image ones. */
export function fakeImageDefaults(version: string): {
  cmd: string[];
  entrypoint: string[];
  env: string[];
  workingDir: string;
  labels: Record<string, string>;
} {
  return {
    entrypoint: ['/bin/sh', '/app/checkstack.sh'],
    cmd: ['serve', `--release=${version}`],
    env: ['PATH=/bin', 'PORT=3000', 'LOG_LEVEL=info', `CHECKSTACK_BUILD=${version}`],
    workingDir: `/srv/checkstack-${version}`,
    labels: {
      'org.opencontainers.image.title': 'checkstack-fake',
      'org.opencontainers.image.version': version,
    },
  };
}

/**
 * Makes (and by default pushes) a fake Checkstack image; returns its reference `registry/repository:version`.
 * The image is a `FROM scratch` root filesystem imported in one step (`docker import` with Dockerfile-style
 * changes): the legacy builder would commit a layer per instruction, which on vfs costs seconds each.
 */
export async function buildFakeCheckstackImage(docker: Dockerode, options: FakeImageOptions): Promise<string> {
  const ref = `${options.registry}/${options.repository}:${options.version}`;
  const defaults = fakeImageDefaults(options.version);
  const changes = [
    `ENV ${defaults.env.map((entry) => entry.replace('=', '="') + '"').join(' ')}`,
    `WORKDIR ${defaults.workingDir}`,
    `LABEL ${Object.entries({ ...defaults.labels, 'dev.checkstack.fake.behaviour': options.behaviour })
      .map(([key, value]) => `${key}="${value}"`)
      .join(' ')}`,
    `ENTRYPOINT ${JSON.stringify(defaults.entrypoint)}`,
    `CMD ${JSON.stringify(defaults.cmd)}`,
  ];
  const rootfs: TarEntry[] = [
    { name: 'bin/', type: 'dir' },
    { name: 'bin/busybox', content: readFileSync(HOST_BUSYBOX), mode: 0o755 },
    ...['sh', 'nc', 'date', 'sleep', 'cat', 'mkdir', 'env', 'echo', 'rm', 'touch', 'kill'].map(
      (applet): TarEntry => ({ name: `bin/${applet}`, type: 'symlink', linkname: 'busybox' }),
    ),
    { name: 'app/', type: 'dir' },
    { name: 'app/checkstack.sh', content: startScript(options), mode: 0o755 },
    { name: 'app/handler.sh', content: handlerScript(options), mode: 0o755 },
    // Makes the layer unique per reference, so pulling it downloads instead of finding the same layer locally.
    { name: 'app/image-ref', content: `${ref}\n` },
    { name: 'www/', type: 'dir' },
    { name: 'www/index.html', content: indexPage(options.version) },
    { name: 'tmp/', type: 'dir', mode: 0o1777 },
    { name: 'srv/', type: 'dir' },
    { name: `${defaults.workingDir.slice(1)}/`, type: 'dir' },
  ];
  const [repo, tag] = [ref.slice(0, ref.lastIndexOf(':')), options.version];
  const imported = await docker.importImage(Readable.from([tarArchive(rootfs)]), { repo, tag, changes });
  await followDockerStream(docker, imported, `import ${ref}`);
  if (options.push !== false) await pushImage(docker, ref);
  return ref;
}

/** Pushes a local image to a registry that needs no credentials, failing on an in-stream error. */
export async function pushImage(docker: Dockerode, ref: string): Promise<void> {
  const registry = ref.split('/')[0];
  const stream = await docker.getImage(ref).push({ authconfig: { serveraddress: registry } });
  await followDockerStream(docker, stream, `push ${ref}`);
}

/** Follows a build/push progress stream; the engine reports failures as `{"error": …}` lines in a 200 stream. */
async function followDockerStream(docker: Dockerode, stream: NodeJS.ReadableStream, what: string): Promise<void> {
  const events = await new Promise<Array<Record<string, unknown>>>((resolve, reject) => {
    docker.modem.followProgress(stream, (err, result) => (err ? reject(err) : resolve(result)));
  });
  const failure = events.find((event) => event.error || event.errorDetail);
  if (failure) throw new Error(`${what} failed: ${JSON.stringify(failure.error ?? failure.errorDetail)}`);
}

function startScript(options: FakeImageOptions): string {
  const exitOnStart =
    options.behaviour === 'exit-on-start'
      ? 'echo "Error: fake Checkstack refuses to start (exit-on-start)" >&2\nexit 3\n'
      : options.behaviour === 'exit-printing-secrets'
        ? [
            'env >&2',
            'echo "FATAL: cannot decrypt plugin secrets with ENCRYPTION_MASTER_KEY=$ENCRYPTION_MASTER_KEY" >&2',
            'echo "Error: master key $ENCRYPTION_MASTER_KEY does not open the stored secrets; refusing to start" >&2',
            'exit 3',
            '',
          ].join('\n')
        : '';
  if (options.behaviour === 'era-0.31') return era031StartScript(options);
  return `#!/bin/sh
# Plays Checkstack ${options.version}: an HTTP server on $PORT (host network), logs on stdout and stderr.
trap 'echo "Received SIGTERM, shutting down"; exit 0' TERM INT
echo "Checkstack ${options.version} starting (args: $*) in $(pwd) on port $PORT"
${exitOnStart}mkdir -p /tmp && date +%s > /tmp/started
echo "warning: this is a fake Checkstack" >&2
nc -ll -p "$PORT" -e /app/handler.sh &
echo "Checkstack Core initialized"
${options.behaviour === 'noisy' ? noisyLoop(options) : 'while :; do wait; sleep 1; done'}
`;
}

/**
 * A 0.31-era Checkstack boots for a while before `Checkstack Core initialized`; a request in that time is answered and
 * then kills the process (the handler signals PID 1, which exits with code 1 a second later, as the real one does).
 */
function era031StartScript(options: FakeImageOptions): string {
  return `#!/bin/sh
# Plays Checkstack ${options.version} from before the platform endpoints, on $PORT (host network).
trap 'echo "Received SIGTERM, shutting down"; exit 0' TERM INT
trap 'echo "error: ${EARLY_REQUEST_LOG} ($(cat /tmp/early-request)): Can not add a route since the matcher is already built" >&2; exit 1' USR1
echo "Checkstack ${options.version} starting (args: $*) in $(pwd) on port $PORT"
mkdir -p /tmp && rm -f /tmp/initialized /tmp/early-request
nc -ll -p "$PORT" -e /app/handler.sh &
echo "info: 🚀 Starting Checkstack Core..."
sleep ${options.initAfterSeconds ?? 5} & wait $!
touch /tmp/initialized
echo "info: ✅ Checkstack Core initialized."
while :; do wait; sleep 1; done
`;
}

/** The main loop of the `noisy` behaviour (the HTTP server runs in the background meanwhile). */
function noisyLoop(options: FakeImageOptions): string {
  const crash =
    options.crashAfterSeconds === undefined
      ? ''
      : `  if [ "$n" -ge ${options.crashAfterSeconds} ]; then echo "error: Uncaught exception, exiting" >&2; exit 1; fi\n`;
  return `echo "error: Failed to deliver notification to webhook (HTTP 502)" >&2
echo "FATAL: cannot decrypt plugin secrets with ENCRYPTION_MASTER_KEY=$ENCRYPTION_MASTER_KEY" >&2
n=0
while :; do
  sleep 1
  n=$((n + 1))
  echo "error: tick $n"
${crash}done`;
}

function handlerScript(options: FakeImageOptions): string {
  if (options.behaviour === 'era-0.31') return era031HandlerScript();
  const readyAfter = options.behaviour === 'slow-ready' ? (options.readyAfterSeconds ?? 5) : 0;
  const about = JSON.stringify({
    releaseVersion: options.version,
    coreVersion: '0.27.0',
    plugins: [
      { name: '@checkstack/healthcheck-backend', version: options.version, type: 'backend' },
      { name: '@checkstack/catalog-backend', version: options.version, type: 'backend' },
    ],
  });
  const readyBody = JSON.stringify({
    ready: true,
    checks: [{ name: 'database', critical: true, ok: true, durationMs: 2 }],
  });
  const readiness =
    options.behaviour === 'never-ready'
      ? `respond '503 Service Unavailable' application/json '${JSON.stringify({ ready: false, error: options.readyError ?? 'database connection refused', checks: [] })}' "Retry-After: 5$CR$LF"`
      : `now=$(date +%s); started=$(cat /tmp/started)
    if [ $((now - started)) -lt ${readyAfter} ]; then
      respond '503 Service Unavailable' application/json '{"ready":false,"reason":"initializing","checks":[]}' "Retry-After: 1$CR$LF"
    else
      respond '200 OK' application/json '${readyBody}'
    fi`;
  return `#!/bin/sh
# One HTTP request on stdin/stdout (busybox nc -ll -e), routed like Checkstack's platform endpoints.
CR=$(printf '\\r'); LF='
'
read -r method path proto
while read -r line; do line=\${line%"$CR"}; [ -z "$line" ] && break; done
path=\${path%%\\?*}
respond() {
  printf 'HTTP/1.1 %s\\r\\nContent-Type: %s\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n%s\\r\\n%s' "$1" "$2" "\${#3}" "$4" "$3"
}
case "$path" in
  /.checkstack/health) respond '200 OK' application/json '{"status":"ok"}' ;;
  /.checkstack/ready)
    ${readiness} ;;
  /api/about) respond '200 OK' application/json '${about}' ;;
  /api/catalog/getSystems) respond '200 OK' application/json '{"json":{"systems":[]},"meta":[]}' ;;
  /) respond '200 OK' 'text/html; charset=utf-8' "$(cat /www/index.html)" ;;
  *) respond '404 Not Found' application/json '{"error":"not found"}' ;;
esac
`;
}

/** The single-page app answers every path but `/api/*`; `/api/:pluginId/*` is the RPC mount, which knows no "about". */
function era031HandlerScript(): string {
  return `#!/bin/sh
CR=$(printf '\\r')
read -r method path proto
while read -r line; do line=\${line%"$CR"}; [ -z "$line" ] && break; done
path=\${path%%\\?*}
respond() {
  printf 'HTTP/1.1 %s\\r\\nContent-Type: %s\\r\\nContent-Length: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "$1" "$2" "\${#3}" "$3"
}
if [ ! -f /tmp/initialized ]; then
  echo "$method $path" > /tmp/early-request
  (sleep 1; kill -USR1 1) &
fi
case "$path" in
  /api/catalog/*) respond '200 OK' application/json '{"json":{"systems":[]},"meta":[]}' ;;
  /api/*) respond '500 Internal Server Error' application/json '{"error":"Plugin metadata not found in registry"}' ;;
  *) respond '200 OK' 'text/html;charset=utf-8' "$(cat /www/index.html)" ;;
esac
`;
}

function indexPage(version: string): string {
  return `<!doctype html><html><head><title>Checkstack</title></head><body><div id="root" data-version="${version}"></div></body></html>`;
}

export interface CheckstackContainerOptions {
  name: string;
  image: string;
  port: number;
  /** Extra `KEY=value` entries; `PORT`, `LOG_LEVEL=debug` and `ENCRYPTION_MASTER_KEY` are set unless given here. */
  env?: string[];
  labels?: Record<string, string>;
  /** Bind mounts as `host:container[:mode]`; default none. */
  binds?: string[];
  /** Mounts (named volumes and the like); default a volume `<name>-data` at `/var/lib/checkstack`. */
  mounts?: Dockerode.MountSettings[];
  /** Compose project/service labels; default project `ck-<name>`, service `checkstack`. */
  compose?: { project: string; service: string };
  restartPolicy?: string;
  /** Start it (default true). */
  start?: boolean;
}

/** 64 hex characters, like a real `ENCRYPTION_MASTER_KEY`. */
export function fakeEncryptionKey(): string {
  return randomBytes(32).toString('hex');
}

/** The 'old' container as an operator runs it: compose labels, secrets in env, a volume, a restart policy. */
export async function createCheckstackContainer(
  docker: Dockerode,
  options: CheckstackContainerOptions,
): Promise<Dockerode.Container> {
  const given = new Set((options.env ?? []).map((entry) => entry.split('=')[0]));
  const env = [
    ...(options.env ?? []),
    ...(given.has('PORT') ? [] : [`PORT=${options.port}`]),
    ...(given.has('LOG_LEVEL') ? [] : ['LOG_LEVEL=debug']),
    ...(given.has('ENCRYPTION_MASTER_KEY') ? [] : [`ENCRYPTION_MASTER_KEY=${fakeEncryptionKey()}`]),
    'DATABASE_URL=postgres://checkstack@127.0.0.1:5432/checkstack',
  ];
  const compose = options.compose ?? { project: `ck-${options.name}`, service: 'checkstack' };
  const container = await docker.createContainer({
    name: options.name,
    Image: options.image,
    Env: env,
    Labels: {
      'com.docker.compose.project': compose.project,
      'com.docker.compose.service': compose.service,
      'com.docker.compose.container-number': '1',
      'com.docker.compose.oneoff': 'False',
      'com.docker.compose.version': '2.29.7',
      'com.docker.compose.config-hash': randomBytes(32).toString('hex'),
      'com.docker.compose.project.working_dir': `/srv/${compose.project}`,
      ...options.labels,
    },
    HostConfig: {
      NetworkMode: 'host',
      RestartPolicy: { Name: options.restartPolicy ?? 'unless-stopped', MaximumRetryCount: 0 },
      Binds: options.binds ?? [],
      Mounts: options.mounts ?? [{ Type: 'volume', Source: `${options.name}-data`, Target: '/var/lib/checkstack' }],
      Memory: 256 * 1024 * 1024,
    },
  });
  if (options.start !== false) await container.start();
  return container;
}

/** Removes containers (and their anonymous volumes) by name; missing ones are fine. */
export async function removeContainers(docker: Dockerode, names: string[]): Promise<void> {
  for (const name of names) {
    await docker
      .getContainer(name)
      .remove({ force: true, v: true })
      .catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 404) throw err;
      });
  }
}

/** Removes named volumes; missing or still-used ones are ignored. */
export async function removeVolumes(docker: Dockerode, names: string[]): Promise<void> {
  for (const name of names) await docker.getVolume(name).remove().catch(() => undefined);
}

/** Removes local image tags; missing ones are fine. */
export async function removeImages(docker: Dockerode, refs: string[]): Promise<void> {
  for (const ref of refs) await docker.getImage(ref).remove({ force: true }).catch(() => undefined);
}

/** A TCP port nothing listens on right now (the fake binds all interfaces on the host network). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A short random name part, so parallel suites never share containers, images or volumes. */
export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

/** Polls `check` until it returns a value (not undefined) or the timeout passes. */
export async function pollUntil<T>(check: () => Promise<T | undefined>, timeoutMs = 20_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`, { cause: lastError });
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Fetches `url` once the server answers at all, for a container that was just started. */
export async function fetchWhenListening(url: string, timeoutMs = 20_000): Promise<Response> {
  return pollUntil(async () => fetch(url, { signal: AbortSignal.timeout(2_000) }), timeoutMs);
}

interface TarEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink';
  content?: string | Buffer;
  linkname?: string;
  mode?: number;
}

/** A minimal ustar archive: enough for a build context of files, directories and symlinks. */
function tarArchive(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const body = type === 'file' ? Buffer.from(entry.content ?? '') : Buffer.alloc(0);
    const header = Buffer.alloc(512);
    const put = (offset: number, length: number, value: string) => header.write(value, offset, length, 'utf8');
    const octal = (offset: number, length: number, value: number) =>
      put(offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
    put(0, 100, entry.name);
    octal(100, 8, entry.mode ?? (type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644));
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, body.length);
    octal(136, 12, Math.floor(Date.UTC(2025, 0, 1) / 1000));
    put(148, 8, '        ');
    put(156, 1, type === 'dir' ? '5' : type === 'symlink' ? '2' : '0');
    if (entry.linkname) put(157, 100, entry.linkname);
    put(257, 6, 'ustar\0');
    put(263, 2, '00');
    let sum = 0;
    for (const byte of header) sum += byte;
    put(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
