// Sentences about the platform's things (the container or Deployment that runs, the container or ReplicaSet kept
// aside), built from the Deployer's nouns and facts: no caller asks which platform a target is on.
import type { DeployerNouns, ReplaceResult, RollbackResult } from '../targets/deployer.js';

/** The pre-flight check's title: `Container found and running`, `Deployment found and running`. */
export function instanceFoundTitle(nouns: DeployerNouns): string {
  return `${nouns.instance.charAt(0).toUpperCase()}${nouns.instance.slice(1)} found and running`;
}

/** Neither Checkstack nor the platform could say which version a target runs. */
export function versionUnknownText(target: string, nouns: DeployerNouns): string {
  return `Cannot tell which version \`${target}\` runs: neither /api/about nor the ${nouns.instance} answered.`;
}

/** The Re-check's reason when another instance runs than the plan saw (ids already shortened). */
export function instanceChangedText(nouns: DeployerNouns, was: string, now: string): string {
  return `the ${nouns.instance} changed since the plan (was ${was}, now ${now})`;
}

/** The Pull step's detail where the platform pulls the image itself when the new instance starts (`pullsImage` false). */
export function pulledByPlatformDetail(image: string): string {
  return `nothing to pull here: the cluster pulls ${image} when the new pod starts`;
}

/** The Recreate step's detail. */
export function recreateStepDetail(result: ReplaceResult, nouns: DeployerNouns): string {
  const kept = result.keptAs ? `; the previous ${nouns.kept} is kept as ${result.keptAs}` : '';
  return `${result.instance.name} runs ${result.instance.image}${kept}${result.alreadyDone ? ' (already done before a restart)' : ''}`;
}

/** The Roll back step's detail: what runs again. */
export function rolledBackDetail(result: RollbackResult, previousImage: string, nouns: DeployerNouns): string {
  return result.method === 'kept'
    ? `the kept previous ${nouns.kept} runs again (${result.instance.image})`
    : `recreated from ${previousImage}: the kept ${nouns.kept} was gone`;
}

/** How a failed rollback ends (the deployers' `recreate_failed`): the version it rolled back runs again, or not. */
export function rollbackUndoOutcome(fromVersion: string, undoProblem: string | null): string {
  return undoProblem ? `Bringing ${fromVersion} back failed too (${undoProblem}).` : `${fromVersion} runs again.`;
}
