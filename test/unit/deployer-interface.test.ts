// The Deployer is an interface only if its callers never ask which platform a target is on: outside src/targets/,
// code reads the platform's facts (nouns, pullsImage, rollbackRunsBeforeStart), never its kind; and the words
// built from those facts are the ones users read before there were facts.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { instanceChangedText, instanceFoundTitle, recreateStepDetail, rolledBackDetail, versionUnknownText } from '../../src/slack/deployer-words.js';
import { DOCKER_FACTS, KUBERNETES_FACTS, type DeployedInstance } from '../../src/targets/deployer.js';
import { REPO_ROOT } from '../support/repo-root.js';

/** A read of a deployer's kind, or a branch on the platform's name. */
const ASKS_THE_PLATFORM = [
  /\bdeployer\??\.kind\b/,
  /\.kind\s*[!=]==?\s*['"](?:docker|kubernetes)['"]/,
  /['"](?:docker|kubernetes)['"]\s*[!=]==?\s*[\w.?]*\.kind\b/,
  /\bnouns\??\.platform\s*[!=]==?/,
];

function sourcesOutsideTargets(): { file: string; line: number; text: string }[] {
  const found: { file: string; line: number; text: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) {
        readFileSync(path, 'utf8').split('\n').forEach((text, index) => found.push({ file: relative(REPO_ROOT, path), line: index + 1, text }));
      }
    }
  };
  for (const dir of ['src', 'handlers', 'jobs']) walk(join(REPO_ROOT, dir));
  return found.filter(({ file }) => !file.startsWith(join('src', 'targets')));
}

describe('callers of the Deployer', () => {
  it('never read which platform a target is on outside src/targets/', () => {
    const asking = sourcesOutsideTargets()
      .filter(({ text }) => ASKS_THE_PLATFORM.some((pattern) => pattern.test(text)))
      .map(({ file, line, text }) => `${file}:${line}: ${text.trim()}`);

    expect(asking).toEqual([]);
  });

  it.each([
    "title: `${deployer.kind === 'docker' ? 'Container' : 'Deployment'} found and running`,",
    "const kept = runtime.deployer.kind === 'docker' ? 'container' : 'ReplicaSet';",
    "if (runtime.deployer?.kind !== 'kubernetes') return;",
    "if ('kubernetes' === target.kind) return;",
    'docker: deployer.kind,',
    "const noun = deployer.nouns.platform === 'docker' ? 'container' : 'pod';",
  ])('would catch %s', (line) => {
    expect(ASKS_THE_PLATFORM.some((pattern) => pattern.test(line))).toBe(true);
  });

  it('leaves upgrade kinds and pin-record kinds alone', () => {
    for (const line of ["if (upgrade.kind !== 'upgrade') return '';", "if (record.kind === 'commit') return '';", 'upgrade.pinRecord?.kind']) {
      expect(ASKS_THE_PLATFORM.some((pattern) => pattern.test(line)), line).toBe(false);
    }
  });
});

describe('the words built from the platform facts', () => {
  const instance: DeployedInstance = {
    id: 'x', name: 'checkstack', image: 'ghcr.io/enyineer/checkstack:0.141.0', tag: '0.141.0', imageId: 'sha256:0', running: true,
    restartCount: 0, startedAt: null, encryptionKeyFingerprint: null,
  };

  it.each([
    ['Docker', DOCKER_FACTS, 'Container found and running', 'neither /api/about nor the container answered.', 'the container changed since the plan (was a, now b)', 'container'],
    ['Kubernetes', KUBERNETES_FACTS, 'Deployment found and running', 'neither /api/about nor the deployment answered.', 'the deployment changed since the plan (was a, now b)', 'ReplicaSet'],
  ])('say on %s what they said before', (_platform, facts, title, unknown, changed, kept) => {
    expect(instanceFoundTitle(facts.nouns)).toBe(title);
    expect(versionUnknownText('prod', facts.nouns)).toBe(`Cannot tell which version \`prod\` runs: ${unknown}`);
    expect(instanceChangedText(facts.nouns, 'a', 'b')).toBe(changed);
    expect(recreateStepDetail({ instance, previousImage: 'p', keptAs: 'old', alreadyDone: false }, facts.nouns)).toBe(
      `checkstack runs ghcr.io/enyineer/checkstack:0.141.0; the previous ${kept} is kept as old`,
    );
    expect(rolledBackDetail({ instance, method: 'kept', alreadyDone: false }, 'p', facts.nouns)).toBe(`the kept previous ${kept} runs again (ghcr.io/enyineer/checkstack:0.141.0)`);
    expect(rolledBackDetail({ instance, method: 'recreated', alreadyDone: false }, 'p:1', facts.nouns)).toBe(`recreated from p:1: the kept ${kept} was gone`);
  });

  it('pull on the bot side and restore before start only where the platform lets the bot do it (Docker)', () => {
    expect([DOCKER_FACTS.pullsImage, DOCKER_FACTS.rollbackRunsBeforeStart]).toEqual([true, true]);
    expect([KUBERNETES_FACTS.pullsImage, KUBERNETES_FACTS.rollbackRunsBeforeStart]).toEqual([false, false]);
  });
});
