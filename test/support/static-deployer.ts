// A Deployer that reports a fixed running instance: for tests of the command, checklist and approvals, which
// read the instance but never change it. The upgrade job's tests use the real Docker engine instead.
import { fingerprintSecret } from '../../src/domain/fingerprint.js';
import { DOCKER_FACTS, type DeployedInstance, type Deployer } from '../../src/targets/deployer.js';

export const TEST_MASTER_KEY = 'c0ffee'.repeat(10) + 'beef';

export function staticDeployer(instance: Partial<DeployedInstance> & { tag: string }, preflightWarnings: string[] = []): Deployer & { instance: DeployedInstance } {
  const full: DeployedInstance = {
    id: 'a1b2c3d4e5f6',
    name: 'checkstack',
    image: `ghcr.io/enyineer/checkstack:${instance.tag}`,
    imageId: 'sha256:0000',
    running: true,
    restartCount: 0,
    startedAt: new Date(0).toISOString(),
    encryptionKeyFingerprint: fingerprintSecret(TEST_MASTER_KEY),
    ...instance,
  };
  const unused = (what: string) => async (): Promise<never> => {
    throw new Error(`staticDeployer: ${what} is not available in this test`);
  };
  return {
    ...DOCKER_FACTS,
    instance: full,
    describe: async () => ({ ...full }),
    preflightWarnings: async () => [...preflightWarnings],
    pull: unused('pull'),
    replace: unused('replace'),
    rollback: unused('rollback'),
    removeKept: unused('removeKept'),
    followLogs: unused('followLogs'),
    state: unused('state'),
  };
}
