// The one list of Docker Engine API endpoints the bot calls. The README's Security section, the socket proxy's rules
// in docker-compose.yml, the allowlisting proxy of the Docker end-to-end tests and the doctor's probes all come from
// it (test/integration/docker-endpoints.test.ts compares the first two with it).

export type DockerMethod = 'GET' | 'POST' | 'DELETE';

export interface DockerEndpoint {
  method: DockerMethod;
  /** As the Engine API documents it, e.g. `/containers/{id}/json`: what the README lists. */
  path: string;
  /**
   * The path as a regular expression in the common subset of JavaScript and Go (RE2) syntax, without anchors: the
   * socket proxy (wollomatic/socket-proxy) anchors it and matches it against the request's path, query excluded.
   * An optional API version prefix (`/v1.47`) is allowed, since clients may send one.
   */
  pattern: string;
  /** Why the bot calls it: shown in the README and by the doctor. */
  why: string;
  /** Whether the call changes anything: the doctor probes those only with an id that cannot exist. */
  writes: boolean;
}

const VERSION = '(/v[0-9]+[.][0-9]+)?';
/** A container id or name: one path segment. */
const ID = '[^/]+';
/** An image reference may hold `/` (`ghcr.io/enyineer/checkstack:0.140.0`). */
const IMAGE = '.+';

export const DOCKER_ENDPOINTS: readonly DockerEndpoint[] = [
  { method: 'GET', path: '/containers/json', pattern: `${VERSION}/containers/json`, why: 'find the Compose service\'s container and the kept previous ones', writes: false },
  { method: 'GET', path: '/containers/{id}/json', pattern: `${VERSION}/containers/${ID}/json`, why: 'inspect the container: image, settings, state, encryption key fingerprint', writes: false },
  { method: 'GET', path: '/containers/{id}/logs', pattern: `${VERSION}/containers/${ID}/logs`, why: 'readiness (`Checkstack Core initialized`) and the log watch', writes: false },
  { method: 'GET', path: '/events', pattern: `${VERSION}/events`, why: 'the exit code of a container that restarted at once', writes: false },
  { method: 'GET', path: '/images/{name}/json', pattern: `${VERSION}/images/${IMAGE}/json`, why: 'the new image\'s defaults, to keep only the container\'s own settings', writes: false },
  { method: 'POST', path: '/images/create', pattern: `${VERSION}/images/create`, why: 'pull the new image', writes: true },
  { method: 'POST', path: '/containers/create', pattern: `${VERSION}/containers/create`, why: 'create the new container with the old one\'s settings', writes: true },
  { method: 'POST', path: '/containers/{id}/start', pattern: `${VERSION}/containers/${ID}/start`, why: 'start the new container (or the kept one again on rollback)', writes: true },
  { method: 'POST', path: '/containers/{id}/stop', pattern: `${VERSION}/containers/${ID}/stop`, why: 'stop the old container', writes: true },
  { method: 'POST', path: '/containers/{id}/rename', pattern: `${VERSION}/containers/${ID}/rename`, why: 'keep the old container as `<name>-pre-<version>`', writes: true },
  { method: 'POST', path: '/containers/{id}/update', pattern: `${VERSION}/containers/${ID}/update`, why: 'restart policy of the kept container', writes: true },
  { method: 'POST', path: '/networks/{id}/connect', pattern: `${VERSION}/networks/${ID}/connect`, why: 'attach the new container to its additional networks', writes: true },
  { method: 'DELETE', path: '/containers/{id}', pattern: `${VERSION}/containers/${ID}`, why: 'remove the kept container after retention, or a failed new one', writes: true },
];

/** `GET /containers/{id}/json`: how the README and the doctor name an endpoint. */
export function endpointLabel(endpoint: Pick<DockerEndpoint, 'method' | 'path'>): string {
  return `${endpoint.method} ${endpoint.path}`;
}

/** The endpoint a request is for, or null when the bot has no business calling it. `path` excludes the query. */
export function matchDockerEndpoint(method: string, path: string, endpoints: readonly DockerEndpoint[] = DOCKER_ENDPOINTS): DockerEndpoint | null {
  return endpoints.find((e) => e.method === method && new RegExp(`^(?:${e.pattern})$`).test(path)) ?? null;
}

/** The socket proxy's command-line rules (wollomatic/socket-proxy 1.12+ takes each `-allow<METHOD>` several times). */
export function socketProxyRules(endpoints: readonly DockerEndpoint[] = DOCKER_ENDPOINTS): string[] {
  return endpoints.map((e) => `-allow${e.method}=${e.pattern}`);
}
