import type { ContainerInspectInfo, ImageInspectInfo } from 'dockerode';
import { describe, expect, it } from 'vitest';
import { buildReplacementConfig, mergeEnv, mergeRecord } from '../../src/domain/container-config.js';

const OLD_ID = '3f4e2a9c8b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f';
const NEW_REF = 'ghcr.io/enyineer/checkstack:0.141.0';

/** `docker image inspect ghcr.io/enyineer/checkstack:<version>`, trimmed to what the builder reads. */
function imageInspect(version: string, config: Partial<ImageInspectInfo['Config']> = {}): ImageInspectInfo {
  return {
    Id: `sha256:${version.replace(/\./g, '')}`.padEnd(71, '0'),
    RepoTags: [`ghcr.io/enyineer/checkstack:${version}`],
    Config: {
      Hostname: '',
      Domainname: '',
      User: 'bun',
      Env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'BUN_RUNTIME_TRANSPILER_CACHE_PATH=0',
        'NODE_ENV=production',
        `CHECKSTACK_VERSION=${version}`,
      ],
      Cmd: ['bun', 'run', `dist/server-${version}.js`],
      Entrypoint: ['/usr/local/bin/docker-entrypoint.sh'],
      WorkingDir: '/app',
      Labels: {
        'org.opencontainers.image.source': 'https://github.com/enyineer/checkstack',
        'org.opencontainers.image.version': version,
      },
      ExposedPorts: { '3000/tcp': {} },
      Volumes: null as unknown as Record<string, object>,
      Healthcheck: { Test: ['CMD', 'curl', '-f', 'http://localhost:3000/.checkstack/health'], Interval: 30e9 },
      ...config,
    },
  } as unknown as ImageInspectInfo;
}

/**
 * `docker inspect checkstack-checkstack-1` of a Compose-run container on 0.140.0: the engine has merged the image's
 * defaults into Config, named the hostname after the short id and aliased the short id on the project network.
 */
function containerInspect(overrides: { config?: Partial<ContainerInspectInfo['Config']>; hostConfig?: object; mounts?: object[] } = {}): ContainerInspectInfo {
  const image = imageInspect('0.140.0');
  return {
    Id: OLD_ID,
    Name: '/checkstack-checkstack-1',
    Image: image.Id,
    RestartCount: 0,
    State: { Running: true, Status: 'running', ExitCode: 0 },
    Config: {
      Hostname: OLD_ID.slice(0, 12),
      Domainname: '',
      User: 'bun',
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: [
        'DATABASE_URL=postgres://checkstack:secret@postgres:5432/checkstack',
        'ENCRYPTION_MASTER_KEY=' + 'ab'.repeat(32),
        'NODE_ENV=staging',
        'BASE_URL=https://status.example.com',
        ...image.Config.Env.filter((entry) => !entry.startsWith('NODE_ENV=')),
      ],
      Cmd: image.Config.Cmd,
      Image: 'ghcr.io/enyineer/checkstack:0.140.0',
      Volumes: null,
      WorkingDir: '/app',
      Entrypoint: image.Config.Entrypoint,
      OnBuild: null,
      Labels: {
        ...image.Config.Labels,
        'com.docker.compose.config-hash': '9a7c1e0b2d4f',
        'com.docker.compose.container-number': '1',
        'com.docker.compose.depends_on': 'postgres:service_healthy:false',
        'com.docker.compose.image': 'sha256:1400',
        'com.docker.compose.oneoff': 'False',
        'com.docker.compose.project': 'checkstack',
        'com.docker.compose.project.config_files': '/srv/checkstack/docker-compose.yml',
        'com.docker.compose.project.working_dir': '/srv/checkstack',
        'com.docker.compose.service': 'checkstack',
        'com.docker.compose.version': '2.29.7',
      },
      ExposedPorts: { '3000/tcp': {} },
      Healthcheck: image.Config.Healthcheck,
      ...overrides.config,
    },
    HostConfig: {
      Binds: ['/srv/checkstack/plugins:/app/plugins:rw'],
      NetworkMode: 'checkstack_default',
      PortBindings: { '3000/tcp': [{ HostIp: '', HostPort: '8080' }] },
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      Mounts: [{ Type: 'volume', Source: 'checkstack_data', Target: '/app/data', VolumeOptions: {} }],
      Memory: 1073741824,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m' } },
      ...overrides.hostConfig,
    },
    Mounts: overrides.mounts ?? [
      { Type: 'bind', Source: '/srv/checkstack/plugins', Destination: '/app/plugins', Mode: 'rw', RW: true, Propagation: 'rprivate' },
      { Type: 'volume', Name: 'checkstack_data', Source: '/var/lib/docker/volumes/checkstack_data/_data', Destination: '/app/data', Driver: 'local', Mode: 'z', RW: true, Propagation: '' },
    ],
    NetworkSettings: {
      Networks: {
        checkstack_default: {
          IPAMConfig: null,
          Links: null,
          Aliases: ['checkstack-checkstack-1', 'checkstack', OLD_ID.slice(0, 12)],
          NetworkID: 'f00dfeed',
          EndpointID: 'e1e1e1',
          Gateway: '172.20.0.1',
          IPAddress: '172.20.0.3',
          IPPrefixLen: 16,
          MacAddress: '02:42:ac:14:00:03',
          DriverOpts: null,
        },
        monitoring: {
          IPAMConfig: { IPv4Address: '10.9.0.20' },
          Links: null,
          Aliases: ['checkstack-api', OLD_ID.slice(0, 12)],
          NetworkID: 'beefcafe',
          IPAddress: '10.9.0.20',
          MacAddress: '02:42:0a:09:00:14',
        },
      },
    },
  } as unknown as ContainerInspectInfo;
}

describe('buildReplacementConfig', () => {
  const oldImage = imageInspect('0.140.0');
  const newImage = imageInspect('0.141.0', {
    Env: [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'NODE_ENV=production',
      'CHECKSTACK_VERSION=0.141.0',
      'CHECKSTACK_PLUGIN_DIR=/app/plugins',
    ],
    Cmd: ['bun', 'run', 'dist/main.js'],
    WorkingDir: '/opt/checkstack',
    Healthcheck: { Test: ['CMD', 'bun', 'healthcheck.ts'], Interval: 15e9 },
    Labels: { 'org.opencontainers.image.version': '0.141.0', 'org.opencontainers.image.licenses': 'MIT' },
  });

  it('runs the new image', () => {
    expect(buildReplacementConfig(containerInspect(), oldImage, newImage, NEW_REF).Image).toBe(NEW_REF);
  });

  it.each([
    ['keeps the operator override of an image default', 'NODE_ENV=staging', true],
    ['keeps the operator secrets and settings', 'DATABASE_URL=postgres://checkstack:secret@postgres:5432/checkstack', true],
    ['keeps the encryption key', 'ENCRYPTION_MASTER_KEY=' + 'ab'.repeat(32), true],
    ['takes the new image value for an inherited default', 'CHECKSTACK_VERSION=0.141.0', true],
    ['drops the old image value of an inherited default', 'CHECKSTACK_VERSION=0.140.0', false],
    ['drops an inherited default the new image no longer sets', 'BUN_RUNTIME_TRANSPILER_CACHE_PATH=0', false],
    ['adds a default only the new image has', 'CHECKSTACK_PLUGIN_DIR=/app/plugins', true],
    ['does not bring back the image default the operator overrode', 'NODE_ENV=production', false],
  ])('env: %s', (_name, entry, present) => {
    const env = buildReplacementConfig(containerInspect(), oldImage, newImage, NEW_REF).Env ?? [];
    expect(env.includes(entry)).toBe(present);
  });

  it('has each env key once', () => {
    const env = buildReplacementConfig(containerInspect(), oldImage, newImage, NEW_REF).Env ?? [];
    const keys = env.map((entry) => entry.split('=')[0]);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it.each([
    ['Cmd', {}, ['bun', 'run', 'dist/main.js']],
    ['Cmd', { Cmd: ['bun', 'run', 'dist/server-0.140.0.js', '--inspect'] }, ['bun', 'run', 'dist/server-0.140.0.js', '--inspect']],
    ['Entrypoint', {}, ['/usr/local/bin/docker-entrypoint.sh']],
    ['Entrypoint', { Entrypoint: ['/custom/entry.sh'] }, ['/custom/entry.sh']],
    ['WorkingDir', {}, '/opt/checkstack'],
    ['WorkingDir', { WorkingDir: '/data' }, '/data'],
    ['User', {}, 'bun'],
    ['User', { User: '1000:1000' }, '1000:1000'],
    ['Healthcheck', {}, { Test: ['CMD', 'bun', 'healthcheck.ts'], Interval: 15e9 }],
    ['Healthcheck', { Healthcheck: { Test: ['NONE'] } }, { Test: ['NONE'] }],
  ] as const)('%s: follows the new image unless the container set its own (%j)', (field, config, expected) => {
    const overrides = config as unknown as Partial<ContainerInspectInfo['Config']>;
    const options = buildReplacementConfig(containerInspect({ config: overrides }), oldImage, newImage, NEW_REF);
    expect(options[field]).toEqual(expected);
  });

  it('keeps the compose and operator labels and takes the new image labels', () => {
    const labels = buildReplacementConfig(
      containerInspect({ config: { Labels: { ...containerInspect().Config.Labels, 'traefik.enable': 'true' } } }),
      oldImage,
      newImage,
      NEW_REF,
    ).Labels;

    expect(labels).toMatchObject({
      'com.docker.compose.project': 'checkstack',
      'com.docker.compose.service': 'checkstack',
      'com.docker.compose.container-number': '1',
      'traefik.enable': 'true',
      'org.opencontainers.image.version': '0.141.0',
      'org.opencontainers.image.licenses': 'MIT',
    });
    expect(labels).not.toHaveProperty('org.opencontainers.image.source');
  });

  it('keeps an image label the operator overrode', () => {
    const base = containerInspect().Config.Labels;
    const labels = buildReplacementConfig(
      containerInspect({ config: { Labels: { ...base, 'org.opencontainers.image.source': 'https://git.acme.dev/fork' } } }),
      oldImage,
      newImage,
      NEW_REF,
    ).Labels;
    expect(labels?.['org.opencontainers.image.source']).toBe('https://git.acme.dev/fork');
  });

  it.each([
    ['the short id', OLD_ID.slice(0, 12), undefined],
    ['a name the operator chose', 'status-01', 'status-01'],
  ])('hostname: %s', (_name, hostname, expected) => {
    const options = buildReplacementConfig(containerInspect({ config: { Hostname: hostname } }), oldImage, newImage, NEW_REF);
    expect(options.Hostname).toBe(expected);
  });

  it('leaves the hostname to the engine on the host network', () => {
    const options = buildReplacementConfig(
      containerInspect({ config: { Hostname: 'buildhost' }, hostConfig: { NetworkMode: 'host' } }),
      oldImage,
      newImage,
      NEW_REF,
    );
    expect(options.Hostname).toBeUndefined();
    expect(options.NetworkingConfig).toBeUndefined();
  });

  it('keeps the host config: binds, mounts, ports, restart policy, resources, logging', () => {
    const old = containerInspect();
    expect(buildReplacementConfig(old, oldImage, newImage, NEW_REF).HostConfig).toEqual(old.HostConfig);
  });

  it('keeps networks and aliases without the old container id or runtime addresses', () => {
    const endpoints = buildReplacementConfig(containerInspect(), oldImage, newImage, NEW_REF).NetworkingConfig?.EndpointsConfig;
    expect(endpoints).toEqual({
      checkstack_default: { Aliases: ['checkstack-checkstack-1', 'checkstack'] },
      monitoring: { Aliases: ['checkstack-api'], IPAMConfig: { IPv4Address: '10.9.0.20' } },
    });
  });

  it('mounts the old anonymous volumes again so their data follows', () => {
    const old = containerInspect({
      mounts: [
        ...containerInspect().Mounts,
        { Type: 'volume', Name: '5d1e0c9a7b', Source: '/var/lib/docker/volumes/5d1e0c9a7b/_data', Destination: '/app/cache', Driver: 'local', Mode: '', RW: true, Propagation: '' },
      ],
    });
    const mounts = buildReplacementConfig(old, oldImage, newImage, NEW_REF).HostConfig?.Mounts;
    expect(mounts).toEqual([
      { Type: 'volume', Source: 'checkstack_data', Target: '/app/data', VolumeOptions: {} },
      { Type: 'volume', Source: '5d1e0c9a7b', Target: '/app/cache' },
    ]);
  });

  it('exposes the new image ports and keeps the ones the operator added', () => {
    const options = buildReplacementConfig(
      containerInspect({ config: { ExposedPorts: { '3000/tcp': {}, '9464/tcp': {} } } }),
      oldImage,
      imageInspect('0.141.0', { ExposedPorts: { '8080/tcp': {} } }),
      NEW_REF,
    );
    expect(Object.keys(options.ExposedPorts ?? {}).sort()).toEqual(['8080/tcp', '9464/tcp']);
  });
});

describe('mergeEnv', () => {
  it.each([
    ['nothing inherited', ['A=1'], [], ['B=2'], ['A=1', 'B=2']],
    ['inherited default follows', ['A=1', 'V=1'], ['V=1'], ['V=2'], ['A=1', 'V=2']],
    ['override stays', ['V=mine'], ['V=1'], ['V=2'], ['V=mine']],
    ['removed default goes', ['V=1', 'A=1'], ['V=1'], [], ['A=1']],
    ['value containing =', ['URL=a=b'], [], [], ['URL=a=b']],
  ])('%s', (_name, container, oldDefaults, newDefaults, expected) => {
    expect(mergeEnv(container, oldDefaults, newDefaults)).toEqual(expected);
  });
});

describe('mergeRecord', () => {
  it('treats labels like env', () => {
    expect(mergeRecord({ a: '1', v: 'old', mine: 'x' }, { v: 'old', gone: 'g' }, { v: 'new', added: 'y' })).toEqual({
      a: '1',
      v: 'new',
      mine: 'x',
      added: 'y',
    });
  });
});
