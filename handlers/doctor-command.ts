// `/checkstack doctor`: approvers only; runs every read-only check and answers ephemerally with the problems and fixes.
import type { DoctorReport } from '../src/domain/doctor.js';
import { AppError } from '../src/errors.js';
import type { ApproverResolver } from '../src/slack/approvers.js';
import { doctorReply } from '../src/slack/doctor-words.js';
import type { SubcommandHandler } from './checkstack-command.js';

export function doctorCommand(deps: { approvers: ApproverResolver; runDoctor: () => Promise<DoctorReport> }): SubcommandHandler<'doctor'> {
  return async ({ userId, reply }) => {
    const approvers = await deps.approvers.approvers();
    if (!approvers.has(userId)) throw new AppError('not_authorized', 'Only approvers can run the doctor. Ask one of them, or run `checkstack-chatops doctor` where the bot runs.');
    const report = await deps.runDoctor();
    await reply(doctorReply(report));
    return { detail: { problems: report.problems, warnings: report.warnings } };
  };
}
