// Docker facts for the doctor: one request per endpoint the bot calls (src/targets/docker-endpoints.ts), through
// whatever sits in front of the engine. Nothing changes: every `{id}` is one that cannot exist, so a proxy that lets
// the call through gets the engine's "not found" (or "invalid") answer, and one that does not answers 403 or 405.
import { randomBytes } from 'node:crypto';
import { request, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { DockerEndpointProbe, DockerFacts } from '../domain/doctor.js';
import { DOCKER_ENDPOINTS, endpointLabel, type DockerEndpoint } from '../targets/docker-endpoints.js';

const PROBE_TIMEOUT_MS = 10_000;

/** The request the doctor sends for an endpoint: method, a path with ids that cannot exist, and a body if any. */
export function probeRequest(endpoint: DockerEndpoint, missing: string, nowSeconds: number): { path: string; body?: string } {
  const path = endpoint.path.replace('{id}', missing).replace('{name}', `${missing}:none`);
  switch (endpoint.path) {
    case '/events':
      // Bounded in time: without `until` the engine streams events for ever.
      return { path: `/events?since=${nowSeconds - 1}&until=${nowSeconds}` };
    case '/containers/json':
      return { path: '/containers/json?limit=1' };
    case '/containers/{id}/logs':
      return { path: `${path}?stdout=1&tail=1` };
    case '/images/create':
      // An invalid reference (upper case) is refused before any registry is asked: 400, nothing pulled.
      return { path: `/images/create?fromImage=${encodeURIComponent(`${missing}/NOT-A-VALID-REFERENCE`)}&tag=none` };
    case '/containers/create':
      // An invalid name is refused before anything is created: 400 (or 404 for the missing image).
      return { path: `/containers/create?name=${encodeURIComponent(`/${missing}/invalid`)}`, body: JSON.stringify({ Image: `${missing}:none` }) };
    case '/containers/{id}/rename':
      return { path: `${path}?name=${missing}-renamed` };
    case '/networks/{id}/connect':
      return { path, body: JSON.stringify({ Container: missing }) };
    case '/containers/{id}/update':
      return { path, body: '{}' };
    default:
      return { path };
  }
}

function connection(host: string): { options: Pick<RequestOptions, 'socketPath' | 'host' | 'port'>; tls: boolean } {
  const url = new URL(host);
  if (url.protocol === 'unix:') return { options: { socketPath: url.pathname }, tls: false };
  const tls = url.protocol === 'https:';
  return { options: { host: url.hostname, port: Number(url.port || (tls ? 2376 : 2375)) }, tls };
}

function send(host: string, method: string, path: string, body?: string): Promise<{ status: number; message: string }> {
  const { options, tls } = connection(host);
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : request)(
      {
        ...options,
        method,
        path,
        headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: PROBE_TIMEOUT_MS,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < 2_000) text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, message: messageOf(text) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS / 1000} s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The engine's `{"message": …}`, or the first line of a proxy's text. */
function messageOf(text: string): string {
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  return text.split('\n')[0]!.slice(0, 200);
}

export async function probeDocker(target: string, host: string, endpoints: readonly DockerEndpoint[] = DOCKER_ENDPOINTS): Promise<DockerFacts> {
  const missing = `checkstack-chatops-doctor-${randomBytes(6).toString('hex')}`;
  const nowSeconds = Math.floor(Date.now() / 1000);
  const probes: DockerEndpointProbe[] = [];
  for (const endpoint of endpoints) {
    const { path, body } = probeRequest(endpoint, missing, nowSeconds);
    try {
      const answer = await send(host, endpoint.method, path, body);
      probes.push({ endpoint: endpointLabel(endpoint), writes: endpoint.writes, status: answer.status, message: answer.message });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      // Nothing answers at that address: one finding for the host says more than one per endpoint.
      if (probes.length === 0) return { target, host, probes: null, error: message };
      probes.push({ endpoint: endpointLabel(endpoint), writes: endpoint.writes, status: null, message });
    }
  }
  return { target, host, probes };
}
