// The one place an error becomes Slack text: each code's words, and the reference id of an unexpected error.
import { isAppError, type ErrorCode } from '../errors.js';

/**
 * Every error code, with what a Slack user reads for it: `own` when the error's message is written for the
 * user and shown as is; otherwise the generic text (the message itself is for operators and the log).
 */
const USER_TEXT = {
  invalid_input: 'own',
  unknown_subcommand: 'own',
  version_not_allowed: 'own',
  version_not_released: 'own',
  prerelease_not_allowed: 'own',
  version_already_running: 'own',
  downgrade_refused: 'own',
  unknown_target: 'own',
  upgrade_in_progress: 'own',
  not_authorized: 'own',
  request_not_active: 'own',
  /** What runs is no longer what the plan saw (another version, instance or `/api/about`): the upgrade's Re-check. */
  target_drifted: 'own',
  stale_action: 'own',
  not_found: 'own',
  fingerprint_mismatch: 'own',
  config_invalid: 'The bot is misconfigured; an operator must fix its configuration (run `checkstack-chatops check-config`).',
  github_unavailable: 'GitHub could not be reached just now; try again in a minute.',
  github_rate_limited: 'GitHub is rate-limiting the bot; try again in a few minutes (a `GITHUB_TOKEN` raises the limit).',
  slack_unavailable: "Slack did not accept the bot's request; try again in a minute.",
  checkstack_unreachable: 'The Checkstack instance could not be reached.',
  checkstack_api_error: 'The Checkstack instance answered with an error.',
  checkstack_auth_failed: "The Checkstack instance refused the bot's API key; check the key and its roles.",
  deployer_error: 'The container platform (Docker or Kubernetes) answered with an error.',
  image_pull_failed: 'The new image could not be pulled.',
  recreate_failed: 'The container could not be recreated; the old one was restored.',
  readiness_timeout: 'The new version did not become ready in time.',
  git_record_failed: 'The Git record of the pinned tag could not be written.',
  backup_misconfigured: 'own',
  backup_failed: 'own',
  drill_failed: 'own',
  restore_failed: 'own',
  target_not_pinned: 'own',
  registry_unavailable: 'own',
  digest_unmatched: 'own',
  internal: null,
} as const satisfies Record<ErrorCode, string | null>;

export interface UserMessage {
  text: string;
  /** Present for unexpected errors: the short id that finds the stack in the logs. */
  referenceId?: string;
}

/**
 * The one place an error becomes Slack text. A reference id ties an unexpected error to its log line; it is made
 * only for those, not for the refusals users meet every day.
 */
export function toUserMessage(err: unknown, newReferenceId: () => string): UserMessage {
  if (isAppError(err)) {
    const text = USER_TEXT[err.code];
    if (text === 'own') return { text: err.message };
    if (text) {
      const referenceId = newReferenceId();
      return { text: `${text} (reference \`${referenceId}\`)`, referenceId };
    }
  }
  const referenceId = newReferenceId();
  return {
    text: `Something went wrong on the bot's side. Give an operator the reference \`${referenceId}\`; the details are in the bot's log.`,
    referenceId,
  };
}
