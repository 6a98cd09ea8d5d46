// The readable form of release summaries that `checkstack-chatops summarize` prints without `--json`.
import { policyHint } from './bump-policy.js';
import type { BreakingChange, ReleaseSummary } from './release-types.js';

const PACKAGES_SHOWN = 3;

export function formatSummaryText(summaries: ReleaseSummary[]): string {
  if (summaries.length === 0) return 'No published releases.\n';
  return `${summaries.map(formatOne).join('\n\n')}\n`;
}

function formatOne(summary: ReleaseSummary): string {
  return [
    `Checkstack ${summary.version} (previous: ${summary.previous ?? 'none'})`,
    `  bump: ${policyHint(summary.bump)}`,
    `  flags: ${flagNames(summary).join(', ') || 'none'}`,
    ...breakingLines(summary.breaking),
    `  notes: ${summary.url}`,
  ].join('\n');
}

export function flagNames(summary: ReleaseSummary): string[] {
  const flags: Array<[boolean, string]> = [
    [summary.migrations, 'migrations'],
    [summary.encryption, 'encryption'],
    [summary.destructive, 'destructive'],
    [summary.truncated, 'truncated'],
  ];
  return flags.filter(([set]) => set).map(([, name]) => name);
}

function breakingLines(breaking: BreakingChange[]): string[] {
  if (breaking.length === 0) return ['  breaking changes: none found'];
  return [`  breaking changes (${breaking.length}):`, ...operatorFirst(breaking).map(breakingLine)];
}

export function operatorFirst(breaking: readonly BreakingChange[]): BreakingChange[] {
  return [
    ...breaking.filter((change) => change.audience === 'operator'),
    ...breaking.filter((change) => change.audience !== 'operator'),
  ];
}

function breakingLine(change: BreakingChange): string {
  return `    - [${change.audience}] ${change.id} ${change.title} (${packageList(change.packages)})`;
}

function packageList(packages: readonly string[]): string {
  const shown = packages.slice(0, PACKAGES_SHOWN).join(', ');
  const hidden = packages.length - PACKAGES_SHOWN;
  return hidden > 0 ? `${shown} +${hidden} more` : shown;
}
