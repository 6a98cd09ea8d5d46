// `checkstack-chatops doctor [--json]`: checks everything the configuration depends on, changing nothing, and names
// the fix for each problem. Exit codes: 0 no problem (warnings allowed), 1 at least one problem, 2 bad usage.
import type { DoctorReport, Finding } from './domain/doctor.js';
import { runDoctor, type DoctorDeps } from './doctor/run-doctor.js';

export const DOCTOR_USAGE = 'Usage: checkstack-chatops doctor [--json]';

export interface DoctorCommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export async function runDoctorCommand(args: string[], io: DoctorCommandIo, deps: DoctorDeps): Promise<number> {
  let json = false;
  for (const arg of args) {
    if (arg === '--json') json = true;
    else {
      io.err.write(`Unknown argument \`${arg}\`.\n${DOCTOR_USAGE}\n`);
      return 2;
    }
  }
  const report = await runDoctor(deps);
  io.out.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
  return report.healthy ? 0 : 1;
}

const MARK: Record<Finding['status'], string> = { ok: 'ok  ', warning: 'WARN', problem: 'FAIL' };

/** For a terminal: one line per check, grouped by area, the fix indented under each problem and warning. */
export function formatDoctorReport(report: DoctorReport): string {
  const lines: string[] = [];
  let area: string | null = null;
  for (const finding of report.findings) {
    if (finding.area !== area) {
      area = finding.area;
      lines.push('', area.toUpperCase());
    }
    lines.push(`  ${MARK[finding.status]}  ${finding.check}: ${finding.detail}`);
    if (finding.fix) lines.push(`        fix: ${finding.fix}`);
  }
  const verdict = report.healthy
    ? `All good: ${report.findings.length} checks${report.warnings ? `, ${report.warnings} warning(s)` : ''}.`
    : `${report.problems} problem(s)${report.warnings ? `, ${report.warnings} warning(s)` : ''} in ${report.findings.length} checks.`;
  return `${lines.join('\n').trimStart()}\n\n${verdict}\n`;
}
