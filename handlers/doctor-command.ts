// `/checkstack doctor`: approvers only; runs every read-only check and answers ephemerally with the problems and fixes.
import type { DoctorReport } from '../src/domain/doctor.js';
import { AppError } from '../src/errors.js';
import type { ApproverResolver } from '../src/slack/approvers.js';
import { doctorReply } from '../src/slack/doctor-words.js';
import type { SubcommandHandler } from './checkstack-command.js';
import { CLICK_REFUSALS } from '../src/slack/click-refusals.js';

export function doctorCommand(deps: { approvers: ApproverResolver; runDoctor: () => Promise<DoctorReport> }): SubcommandHandler<'doctor'> {
  return async ({ userId, reply }) => {
    const approvers = await deps.approvers.approvers();
    if (!approvers.has(userId)) throw new AppError('not_authorized', CLICK_REFUSALS.doctorNeedsApprover);
    const report = await deps.runDoctor();
    await reply(doctorReply(report));
    return { detail: { problems: report.problems, warnings: report.warnings } };
  };
}
