// The create options for a container that replaces another with a new image, the way an operator expects:
// everything the operator set is kept; whatever merely repeated the old image's defaults follows the new image.
// Type-only: the Docker Engine API's shapes as @types/dockerode spells them; nothing here talks to an engine.
// eslint-disable-next-line no-restricted-imports
import type {
  ContainerCreateOptions,
  ContainerInspectInfo,
  EndpointSettings,
  HealthConfig,
  ImageInspectInfo,
  MountSettings,
} from 'dockerode';

/** Engine networks with no per-container settings to carry over (the default bridge takes no aliases). */
const BUILT_IN_NETWORKS = new Set(['host', 'none', 'bridge']);

export function buildReplacementConfig(
  oldContainer: ContainerInspectInfo,
  oldImage: ImageInspectInfo,
  newImage: ImageInspectInfo,
  newImageRef: string,
): ContainerCreateOptions {
  const config = oldContainer.Config;
  const oldDefaults = oldImage.Config;
  const newDefaults = newImage.Config;
  const hostConfig = { ...oldContainer.HostConfig };
  const anonymousVolumes = anonymousVolumeMounts(oldContainer);
  if (anonymousVolumes.length > 0) hostConfig.Mounts = [...(hostConfig.Mounts ?? []), ...anonymousVolumes];

  const options: ContainerCreateOptions = {
    Image: newImageRef,
    Domainname: config.Domainname,
    User: followDefault(config.User, oldDefaults.User, newDefaults.User) ?? '',
    AttachStdin: config.AttachStdin,
    AttachStdout: config.AttachStdout,
    AttachStderr: config.AttachStderr,
    Tty: config.Tty,
    OpenStdin: config.OpenStdin,
    StdinOnce: config.StdinOnce,
    Env: mergeEnv(config.Env ?? [], oldDefaults.Env ?? [], newDefaults.Env ?? []),
    Cmd: followDefault(orNull(config.Cmd), orNull(oldDefaults.Cmd), orNull(newDefaults.Cmd)) ?? undefined,
    Entrypoint:
      followDefault(
        asList(config.Entrypoint),
        asList(oldDefaults.Entrypoint),
        asList(newDefaults.Entrypoint),
      ) ?? undefined,
    WorkingDir: followDefault(config.WorkingDir, oldDefaults.WorkingDir, newDefaults.WorkingDir) ?? '',
    Labels: mergeRecord(config.Labels ?? {}, oldDefaults.Labels ?? {}, newDefaults.Labels ?? {}),
    ExposedPorts: mergeKeys(config.ExposedPorts, oldDefaults.ExposedPorts, newDefaults.ExposedPorts),
    Volumes: mergeKeys(config.Volumes, oldDefaults.Volumes, newDefaults.Volumes),
    HostConfig: hostConfig,
  };

  const healthcheck = followDefault(
    orNull(config.Healthcheck),
    orNull(oldDefaults.Healthcheck),
    orNull(newDefaults.Healthcheck),
  );
  if (healthcheck) options.Healthcheck = healthcheck as HealthConfig;

  const stopSignal = followDefault(
    extra(config, 'StopSignal'),
    extra(oldDefaults, 'StopSignal'),
    extra(newDefaults, 'StopSignal'),
  );
  if (typeof stopSignal === 'string' && stopSignal) options.StopSignal = stopSignal;
  const stopTimeout = extra(config, 'StopTimeout');
  if (typeof stopTimeout === 'number') options.StopTimeout = stopTimeout;
  const macAddress = extra(config, 'MacAddress');
  if (typeof macAddress === 'string' && macAddress) options.MacAddress = macAddress;

  const hostname = keptHostname(oldContainer);
  if (hostname !== undefined) options.Hostname = hostname;

  const endpoints = endpointsConfig(oldContainer);
  if (endpoints) options.NetworkingConfig = { EndpointsConfig: endpoints };
  return options;
}

/** The operator's value, unless it merely repeats the old image's default: then the new image's default. */
function followDefault<T>(current: T, oldDefault: T, newDefault: T): T {
  return sameValue(current, oldDefault) ? newDefault : current;
}

/**
 * The container's env with inherited image defaults swapped for the new image's: an entry equal to an old-image
 * default takes the new image's value for that key (or goes, when the new image no longer sets it); the
 * operator's own entries and overrides stay; new-image defaults the container lacks are added.
 */
export function mergeEnv(containerEnv: string[], oldImageEnv: string[], newImageEnv: string[]): string[] {
  const oldDefaults = new Set(oldImageEnv);
  const newByKey = new Map(newImageEnv.map((entry) => [envKey(entry), entry]));
  const result: string[] = [];
  const seen = new Set<string>();
  for (const entry of containerEnv) {
    const key = envKey(entry);
    if (seen.has(key)) continue;
    if (oldDefaults.has(entry)) {
      const replacement = newByKey.get(key);
      if (replacement === undefined) continue;
      result.push(replacement);
    } else {
      result.push(entry);
    }
    seen.add(key);
  }
  for (const [key, entry] of newByKey) if (!seen.has(key)) result.push(entry);
  return result;
}

function envKey(entry: string): string {
  const at = entry.indexOf('=');
  return at === -1 ? entry : entry.slice(0, at);
}

/** Labels by the same rule as env: inherited image labels follow the new image, the container's own stay. */
export function mergeRecord(
  current: Record<string, string>,
  oldDefaults: Record<string, string>,
  newDefaults: Record<string, string>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(current)) {
    if (oldDefaults[key] === value) {
      if (key in newDefaults) result[key] = newDefaults[key] as string;
    } else {
      result[key] = value;
    }
  }
  for (const [key, value] of Object.entries(newDefaults)) if (!(key in result)) result[key] = value;
  return result;
}

/** Exposed ports and declared volumes: the container's own plus the new image's, without the old image's. */
function mergeKeys(
  current: Record<string, object> | null | undefined,
  oldDefaults: Record<string, object> | null | undefined,
  newDefaults: Record<string, object> | null | undefined,
): Record<string, object> | undefined {
  const keys = new Set(Object.keys(current ?? {}).filter((key) => !(key in (oldDefaults ?? {}))));
  for (const key of Object.keys(newDefaults ?? {})) keys.add(key);
  if (keys.size === 0) return undefined;
  return Object.fromEntries([...keys].map((key) => [key, {}]));
}

/**
 * Docker names a container's hostname after its short id unless told otherwise; carrying that over would name
 * the new container after the old one. On the host network the engine sets the host's name itself.
 */
function keptHostname(container: ContainerInspectInfo): string | undefined {
  const hostname = container.Config.Hostname;
  if (!hostname) return undefined;
  if (container.Id.startsWith(hostname)) return undefined;
  const mode = container.HostConfig.NetworkMode ?? '';
  if (mode === 'host' || mode.startsWith('container:')) return undefined;
  return hostname;
}

/**
 * Volumes the old container got without naming them (the image's `VOLUME`, `-v /path`): mounted again by name,
 * as Compose does, so their data follows the container instead of being left behind.
 */
function anonymousVolumeMounts(container: ContainerInspectInfo): MountSettings[] {
  const explicitTargets = new Set<string>([
    ...(container.HostConfig.Binds ?? []).map((bind) => bind.split(':')[1] ?? ''),
    ...(container.HostConfig.Mounts ?? []).map((mount) => mount.Target),
  ]);
  return (container.Mounts ?? [])
    .filter((mount) => mount.Type === 'volume' && mount.Name && !explicitTargets.has(mount.Destination))
    .map((mount) => ({ Type: 'volume' as const, Source: mount.Name as string, Target: mount.Destination }));
}

/** Per-network settings the operator chose (aliases, static IPs, links); runtime addresses are left to the engine. */
function endpointsConfig(container: ContainerInspectInfo): Record<string, EndpointSettings> | undefined {
  const mode = container.HostConfig.NetworkMode ?? '';
  if (mode === 'host' || mode === 'none' || mode.startsWith('container:')) return undefined;
  const networks = container.NetworkSettings?.Networks ?? {};
  const shortId = container.Id.slice(0, 12);
  const endpoints: Record<string, EndpointSettings> = {};
  for (const [name, network] of Object.entries(networks)) {
    if (BUILT_IN_NETWORKS.has(name)) continue;
    const endpoint: EndpointSettings = {};
    const aliases = ((network.Aliases as string[] | null | undefined) ?? []).filter(
      (alias) => alias !== shortId && alias !== container.Id,
    );
    if (aliases.length > 0) endpoint.Aliases = aliases;
    const ipam = network.IPAMConfig as EndpointSettings['IPAMConfig'] | null | undefined;
    if (ipam && Object.keys(ipam).length > 0) endpoint.IPAMConfig = ipam;
    const links = network.Links as string[] | null | undefined;
    if (links && links.length > 0) endpoint.Links = links;
    const driverOpts = (network as { DriverOpts?: Record<string, string> | null }).DriverOpts;
    if (driverOpts && Object.keys(driverOpts).length > 0) endpoint.DriverOpts = driverOpts;
    endpoints[name] = endpoint;
  }
  return Object.keys(endpoints).length > 0 ? endpoints : undefined;
}

function extra(config: object, key: string): unknown {
  return (config as Record<string, unknown>)[key] ?? null;
}

function orNull<T>(value: T | null | undefined): T | null {
  return value ?? null;
}

function asList(value: string | string[] | null | undefined): string[] | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? [value] : value;
}

/** Structural equality where null, undefined and an empty list all mean "not set". */
function sameValue(a: unknown, b: unknown): boolean {
  const na = normalise(a);
  const nb = normalise(b);
  return JSON.stringify(na) === JSON.stringify(nb);
}

function normalise(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return null;
  if (Array.isArray(value)) return value.length === 0 ? null : value;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .sort(([a], [b]) => a.localeCompare(b));
    return entries.length === 0 ? null : Object.fromEntries(entries.map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}
