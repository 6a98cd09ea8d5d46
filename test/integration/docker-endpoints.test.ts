// One list of Docker endpoints: the README's Security section and the socket proxy's rules in docker-compose.yml must
// say exactly what src/targets/docker-endpoints.ts says, and the patterns must match the paths dockerode sends.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DOCKER_ENDPOINTS, endpointLabel, matchDockerEndpoint, socketProxyRules } from '../../src/targets/docker-endpoints.js';
import { REPO_ROOT } from '../support/repo-root.js';

interface ComposeService {
  image?: string;
  user?: string;
  command?: string[];
  volumes?: string[];
  networks?: string[] | Record<string, unknown>;
  environment?: Record<string, string>;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, { external?: boolean; name?: string; internal?: boolean } | null>;
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as ComposeFile;
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

function securitySection(): string {
  const start = readme.indexOf('\n## Security\n');
  const end = readme.indexOf('\n## ', start + 1);
  expect(start).toBeGreaterThan(0);
  return readme.slice(start, end);
}

describe('the Docker endpoints the bot calls', () => {
  it('are the endpoints the README Security section lists, no more and no fewer', () => {
    const listed = [...securitySection().matchAll(/^ {2}- `((?:GET|POST|PUT|DELETE|HEAD) \/[^`]*)`/gm)].map((m) => m[1]);
    expect([...listed].sort()).toEqual(DOCKER_ENDPOINTS.map(endpointLabel).sort());
  });

  it('are exactly the rules of the pinned socket proxy in docker-compose.yml', () => {
    const proxy = compose.services['docker-proxy'];
    expect(proxy?.image).toMatch(/^wollomatic\/socket-proxy:\d+\.\d+\.\d+$/);
    const rules = (proxy?.command ?? []).filter((arg) => /^-allow[A-Z]+=/.test(arg));
    expect([...rules].sort()).toEqual(socketProxyRules().sort());
    // Only the proxy holds the socket, read-only, as nobody in the docker group.
    expect(proxy?.volumes).toEqual(['/var/run/docker.sock:/var/run/docker.sock:ro']);
    expect(proxy?.user).toMatch(/^65534:\$\{DOCKER_GID:\?/);
    expect(proxy?.command).toContain('-allowfrom=bot');
  });

  it('leave the bot without the socket, on Checkstack\'s network, with its own services under names that cannot clash', () => {
    const bot = compose.services.bot!;
    expect(JSON.stringify(bot.volumes)).not.toMatch(/docker\.sock/);
    expect(compose.networks.checkstack).toEqual({ external: true, name: '${CHECKSTACK_NETWORK:-checkstack_default}' });
    expect(bot.networks).toEqual(expect.arrayContaining(['checkstack', 'docker-proxy', 'default']));
    expect(compose.networks['docker-proxy']).toEqual({ internal: true });
    expect(Object.keys(compose.services).sort()).toEqual(['bot', 'chatops-postgres', 'chatops-redis', 'docker-proxy']);
    expect(bot.environment?.DATABASE_URL).toMatch(/@chatops-postgres:5432\//);
    expect(bot.environment?.REDIS_URL).toBe('redis://chatops-redis:6379');
    expect(compose.services['chatops-redis']?.command).toEqual(expect.arrayContaining(['--maxmemory-policy', 'noeviction', '--appendonly', 'yes']));
    for (const service of Object.values(compose.services)) {
      if (service.image) expect(service.image).toMatch(/:\d+\.\d+(\.\d+)?(-[a-z]+)?$/);
    }
  });

  it('match the paths dockerode sends, with or without an API version, and nothing beside them', () => {
    const allowed: [string, string][] = [
      ['GET', '/containers/json'],
      ['GET', '/containers/ck-e2e-1/json'],
      ['GET', '/v1.47/containers/3f1a/json'],
      ['GET', '/containers/3f1a/logs'],
      ['GET', '/events'],
      ['GET', '/images/127.0.0.1:5000/ck-e2e-x:0.28.0/json'],
      ['POST', '/images/create'],
      ['POST', '/containers/create'],
      ['POST', '/containers/3f1a/start'],
      ['POST', '/containers/3f1a/stop'],
      ['POST', '/containers/3f1a/rename'],
      ['POST', '/containers/3f1a/update'],
      ['POST', '/networks/checkstack_default/connect'],
      ['DELETE', '/containers/3f1a'],
    ];
    for (const [method, path] of allowed) expect(matchDockerEndpoint(method, path), `${method} ${path}`).not.toBeNull();
    const refused: [string, string][] = [
      ['POST', '/containers/3f1a/exec'],
      ['POST', '/exec/1/start'],
      ['GET', '/containers/3f1a/archive'],
      ['PUT', '/containers/3f1a/archive'],
      ['POST', '/containers/3f1a/kill'],
      ['DELETE', '/images/x'],
      ['POST', '/volumes/create'],
      ['GET', '/secrets'],
      ['POST', '/build'],
      ['GET', '/version'],
      ['DELETE', '/containers/3f1a/json'],
    ];
    for (const [method, path] of refused) expect(matchDockerEndpoint(method, path), `${method} ${path}`).toBeNull();
  });
});
