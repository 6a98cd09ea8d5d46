// Coded errors: what went wrong, by code. The text a Slack user reads for each code is src/slack/error-text.ts.
import { randomBytes } from 'node:crypto';

/** Every error code. What a Slack user reads for each is src/slack/error-text.ts. */
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
  'target_drifted',
  'stale_action',
  'not_found',
  'fingerprint_mismatch',
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
  'git_record_failed',
  'backup_misconfigured',
  'backup_failed',
  'drill_failed',
  'restore_failed',
  'target_not_pinned',
  'registry_unavailable',
  'digest_unmatched',
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

/** A short id for an unexpected error: the user reads it, and the log has the stack under it. */
export function newReferenceId(): string {
  return randomBytes(4).toString('hex');
}
