// Runs every doctor probe (each bounded in time, all read-only) and evaluates the facts: the one entry point of the
// CLI's `doctor` and of `/checkstack doctor`.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Octokit } from '@octokit/rest';
import type { WebClient } from '@slack/web-api';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import type { Pool } from '../db/pool.js';
import type { SecretRegistry } from '../logger.js';
import { evaluateDoctor, type DoctorFacts, type DoctorReport, type KubernetesFacts } from '../domain/doctor.js';
import { kubernetesPermissions, permissionLabel } from '../targets/kubernetes-permissions.js';
import type { TargetRegistry } from '../targets/registry.js';
import { probeCheckstack } from './checkstack-probe.js';
import { probeDocker } from './docker-probe.js';
import { probeGithub } from './github-probe.js';
import { probeKubernetes } from './kubernetes-probe.js';
import { probeSlack } from './slack-probe.js';
import { probePostgres, probeRedis } from './stores-probe.js';

export const DOCTOR_PROBE_TIMEOUT_MS = 20_000;

export interface DoctorDeps {
  config: Config;
  slack: WebClient;
  octokit: Octokit;
  pool: Pool;
  redis: Redis;
  targets: TargetRegistry;
  /** The channels announcements go to: the config's, and those subscribed at runtime when the database answers. */
  announceChannels(): Promise<string[]>;
  /** The KubeConfig for Kubernetes targets (loaded only when one is configured). */
  kubeConfig(): Promise<KubeConfig>;
  /** Every configured secret: removed from the findings, which quote what services answered. */
  secrets: SecretRegistry;
  timeoutMs?: number;
}

/** A probe that does not answer in time becomes the error it would have thrown. */
function bounded<T>(probe: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([probe, timeout]).finally(() => clearTimeout(timer));
}

export async function runDoctor(deps: DoctorDeps): Promise<DoctorReport> {
  const ms = deps.timeoutMs ?? DOCTOR_PROBE_TIMEOUT_MS;
  const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
  const channels = await deps.announceChannels().catch(() => deps.config.announce.channels);
  const runtimes = deps.targets.all();

  const [slack, github, docker, kubernetes, checkstack, postgres, redis] = await Promise.all([
    bounded(probeSlack(deps.slack, [...new Set(channels)]), ms, 'Slack').catch((err: unknown): DoctorFacts['slack'] => ({
      auth: { error: messageOf(err) },
      grantedScopes: null,
      neededScopes: new Map(),
      channels: [],
    })),
    bounded(probeGithub(deps.octokit, deps.config), ms, 'GitHub').catch((err: unknown): DoctorFacts['github'] => ({
      apiUrl: deps.config.github.apiUrl,
      tokenSet: deps.config.github.token !== null,
      rateLimit: { error: messageOf(err) },
      pinRepos: [],
    })),
    Promise.all(
      runtimes
        .filter((r) => r.config.docker)
        .map((r) =>
          bounded(probeDocker(r.config.name, r.config.docker!.host), ms * 2, 'Docker').catch((err: unknown) => ({
            target: r.config.name,
            host: r.config.docker!.host,
            probes: null,
            error: messageOf(err),
          })),
        ),
    ),
    Promise.all(
      runtimes
        .filter((r) => r.config.kubernetes)
        .map(async (r): Promise<KubernetesFacts> => {
          const k8s = r.config.kubernetes!;
          const target = { name: r.config.name, namespace: k8s.namespace, deployment: k8s.deployment, encryptionKeySecret: k8s.encryptionKeySecret };
          try {
            return await bounded(deps.kubeConfig().then((kc) => probeKubernetes(kc, target)), ms, 'Kubernetes');
          } catch (err) {
            return {
              target: r.config.name,
              namespace: k8s.namespace,
              probes: kubernetesPermissions(target).map((p) => ({ permission: permissionLabel(p), allowed: null, reason: messageOf(err) })),
            };
          }
        }),
    ),
    Promise.all(
      runtimes.map((r) =>
        bounded(probeCheckstack(r.config.name, r.config.baseUrl, r.checkstack), ms, 'Checkstack').catch((err: unknown) => ({
          target: r.config.name,
          baseUrl: r.config.baseUrl,
          reachable: false,
          error: messageOf(err),
          era: 'unknown' as const,
          version: null,
          apiKey: 'unknown' as const,
        })),
      ),
    ),
    bounded(probePostgres(deps.pool), ms, 'Postgres').catch((err: unknown) => ({ reachable: false, error: messageOf(err) })),
    bounded(probeRedis(deps.redis), ms, 'Redis').catch((err: unknown) => ({ reachable: false, error: messageOf(err), maxmemoryPolicy: null, appendonly: null, save: null })),
  ]);
  const report = evaluateDoctor({ slack, github, docker, kubernetes, checkstack, postgres, redis });
  const scrub = (text: string) => deps.secrets.scrub(text);
  return { ...report, findings: report.findings.map((f) => ({ ...f, check: scrub(f.check), detail: scrub(f.detail), ...(f.fix ? { fix: scrub(f.fix) } : {}) })) };
}
