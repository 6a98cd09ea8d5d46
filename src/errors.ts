// Coded errors and the one mapping from a code to what a Slack user reads.

export const ERROR_CODES = [
  'invalid_input',
  'unknown_subcommand',
  'version_not_allowed',
  'version_not_released',
  'prerelease_not_allowed',
  'version_already_running',
  'downgrade_refused',
  'unknown_target',
  'upgrade_in_progress',
  'not_authorized',
  'request_not_active',
  'stale_action',
  'not_found',
  'config_invalid',
  'github_unavailable',
  'github_rate_limited',
  'slack_unavailable',
  'checkstack_unreachable',
  'checkstack_api_error',
  'checkstack_auth_failed',
  'deployer_error',
  'image_pull_failed',
  'recreate_failed',
  'readiness_timeout',
  'fingerprint_mismatch',
  'git_record_failed',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** Codes whose message is written for the user and shown as is. */
const USER_FACING: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'invalid_input',
  'unknown_subcommand',
  'version_not_allowed',
  'version_not_released',
  'prerelease_not_allowed',
  'version_already_running',
  'downgrade_refused',
  'unknown_target',
  'upgrade_in_progress',
  'not_authorized',
  'request_not_active',
  'stale_action',
  'not_found',
  'fingerprint_mismatch',
]);

/** What a user reads for codes whose message is for operators and logs. */
const GENERIC_TEXT: Partial<Record<ErrorCode, string>> = {
  config_invalid: 'The bot is misconfigured; an operator must fix its configuration (run `checkstack-chatops check-config`).',
  github_unavailable: 'GitHub could not be reached just now; try again in a minute.',
  github_rate_limited: 'GitHub is rate-limiting the bot; try again in a few minutes (a `GITHUB_TOKEN` raises the limit).',
  slack_unavailable: 'Slack did not accept the bot\'s request; try again in a minute.',
  checkstack_unreachable: 'The Checkstack instance could not be reached.',
  checkstack_api_error: 'The Checkstack instance answered with an error.',
  checkstack_auth_failed: 'The Checkstack instance refused the bot\'s API key; check the key and its roles.',
  deployer_error: 'The container platform (Docker or Kubernetes) answered with an error.',
  image_pull_failed: 'The new image could not be pulled.',
  recreate_failed: 'The container could not be recreated; the old one was restored.',
  readiness_timeout: 'The new version did not become ready in time.',
  git_record_failed: 'The Git record of the pinned tag could not be written.',
};

export interface UserMessage {
  text: string;
  /** Present for unexpected errors: the short id that finds the stack in the logs. */
  referenceId?: string;
}

/** The one place an error becomes Slack text. `referenceId` ties an unexpected error to its log line. */
export function toUserMessage(err: unknown, referenceId: string): UserMessage {
  if (isAppError(err)) {
    if (USER_FACING.has(err.code)) return { text: err.message };
    const generic = GENERIC_TEXT[err.code];
    if (generic) return { text: `${generic} (reference \`${referenceId}\`)`, referenceId };
  }
  return {
    text: `Something went wrong on the bot's side. Give an operator the reference \`${referenceId}\`; the details are in the bot's log.`,
    referenceId,
  };
}
