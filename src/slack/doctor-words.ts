// The words of `/checkstack doctor`: the verdict, then each problem and warning with its fix; passing checks only
// as a count per area. Details carry outside text (error messages): clipped and escaped like all of it.
import type { DoctorArea, DoctorReport, Finding } from '../domain/doctor.js';
import { outside } from './clip.js';
import type { EphemeralReply } from './interaction.js';

/** Sections of findings shown; the rest are counted, and the CLI lists them all. */
const MAX_SHOWN = 12;
const DETAIL_BUDGET = 600;
const FIX_BUDGET = 400;

const AREA_NAME: Record<DoctorArea, string> = {
  slack: 'Slack',
  github: 'GitHub',
  docker: 'Docker',
  kubernetes: 'Kubernetes',
  checkstack: 'Checkstack',
  postgres: 'Postgres',
  redis: 'Redis',
};

function findingText(finding: Finding): string {
  const mark = finding.status === 'problem' ? ':x:' : ':warning:';
  const fix = finding.fix ? `\n*Fix:* ${outside(finding.fix, FIX_BUDGET)}` : '';
  return `${mark} *${AREA_NAME[finding.area]}: ${outside(finding.check, 150)}*\n${outside(finding.detail, DETAIL_BUDGET)}${fix}`;
}

export function doctorReply(report: DoctorReport): EphemeralReply {
  const verdict = report.healthy
    ? `:white_check_mark: All ${report.findings.length} checks pass${report.warnings ? `, with ${report.warnings} warning(s)` : ''}.`
    : `:x: ${report.problems} problem(s)${report.warnings ? ` and ${report.warnings} warning(s)` : ''} in ${report.findings.length} checks.`;
  const passing = new Map<DoctorArea, number>();
  for (const f of report.findings) if (f.status === 'ok') passing.set(f.area, (passing.get(f.area) ?? 0) + 1);
  const passingLine = [...passing.entries()].map(([area, n]) => `${AREA_NAME[area]} ${n}`).join(' · ');
  const flagged = report.findings.filter((f) => f.status !== 'ok').sort((a, b) => (a.status === b.status ? 0 : a.status === 'problem' ? -1 : 1));
  const shown = flagged.slice(0, MAX_SHOWN);
  const blocks: unknown[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*Doctor* ${verdict}` } },
    ...shown.map((f) => ({ type: 'section', text: { type: 'mrkdwn', text: findingText(f) } })),
  ];
  const more = flagged.length - shown.length;
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `${more > 0 ? `${more} more not shown. ` : ''}Passing: ${passingLine || 'none'}. Nothing was changed. \`checkstack-chatops doctor\` lists every check.`,
      },
    ],
  });
  return { text: `Doctor: ${verdict}`, blocks };
}
