// The pre-flight checklist of an upgrade, who may confirm and start it, and the lifecycle of an upgrade request.
import { AppError } from '../errors.js';
import type { UpgradePlan } from './upgrade-plan.js';

export type ChecklistItemId =
  | 'notes_read'
  | 'backup'
  | 'master_key'
  | 'downtime'
  | 'destructive_restore_plan'
  | 'encryption_procedure'
  | 'version_mismatch_ack'
  | 'unreachable_ack'
  | 'automatic_checks_ack'
  | 'migrations_not_reversed'
  | 'database_restored'
  | 'plugins_may_not_load';

export interface ChecklistLink {
  label: string;
  url: string;
}

/** A manual item: a person confirms it. */
export interface ChecklistItem {
  id: ChecklistItemId;
  title: string;
  /** Why it matters, one or two sentences of plain text. */
  why: string;
  links?: ChecklistLink[];
}

export type AutomaticCheckId = 'target_ready' | 'deployment_found' | 'master_key_present' | 'platform_warnings';
export type AutomaticCheckResult = 'ok' | 'warning' | 'failed';

/** A check the bot runs itself and shows with its result. */
export interface AutomaticCheck {
  id: AutomaticCheckId;
  title: string;
  result: AutomaticCheckResult;
  /** Plain text for a person; never a secret. */
  detail?: string;
  /** For `master_key_present`: the SHA-256 fingerprint (hex) of the key, shown shortened. Never the key. */
  fingerprint?: string;
}

export interface Confirmation {
  itemId: ChecklistItemId;
  userId: string;
  at: Date;
}

export interface ChecklistState {
  items: ChecklistItemId[];
  confirmations: Confirmation[];
}

export interface ApprovalRules {
  requester: string;
  requireSecondPerson: boolean;
}

export const DEFAULT_REQUEST_TTL_MS = 24 * 60 * 60 * 1000;

/** The items a person must confirm for this plan; the bot's own checks add one when any did not pass. */
export function checklistItems(plan: UpgradePlan, automatic: AutomaticCheck[]): ChecklistItem[] {
  const items: ChecklistItem[] = [
    {
      id: 'notes_read',
      title: `Release notes read for every version from ${plan.from} to ${plan.to}`,
      why:
        plan.minorsCrossed > 0
          ? `This upgrade crosses ${plan.minorsCrossed} minor version${plan.minorsCrossed === 1 ? '' : 's'}; each minor may break: read every one.`
          : 'Even a patch release can change behaviour; the notes say what to expect.',
      links: plan.releasesInRange.map((release) => ({ label: `v${release.version}`, url: release.url })),
    },
    {
      id: 'backup',
      title: 'A recent database backup exists',
      why: 'Postgres holds the plugin artifacts and the encrypted secrets; a backup is the only rollback path if a migration fails.',
    },
    {
      id: 'master_key',
      title: '`ENCRYPTION_MASTER_KEY` is noted somewhere safe',
      why: 'It is needed after a restore; losing it loses every encrypted secret.',
    },
    {
      id: 'downtime',
      title: 'Downtime is planned',
      why: 'A single replica is briefly unavailable while the container restarts and migrations run.',
    },
  ];
  if (plan.flags.destructive) {
    items.push({
      id: 'destructive_restore_plan',
      title: 'Restore plan confirmed for a destructive migration',
      why: 'A release in this range has a destructive migration: the rollback is a database restore, not a tag change.',
    });
  }
  if (plan.flags.encryption) {
    items.push({
      id: 'encryption_procedure',
      title: "The release's encryption procedure has been read",
      why: 'A release in this range changes encryption: follow its procedure, and do not rotate the key before the re-encryption finishes.',
    });
  }
  if (plan.versionMismatch) {
    items.push({
      id: 'version_mismatch_ack',
      title: 'Version disagreement understood',
      why: `\`/api/about\` reports ${plan.current.apiVersion ?? 'nothing'} but the image tag is ${plan.current.imageTag ?? 'unknown'}; the plan starts from ${plan.from}. Find out why before upgrading.`,
    });
  }
  if (plan.unreachable) {
    items.push({
      id: 'unreachable_ack',
      title: 'Unreachable target understood',
      why: `The target did not answer, so the plan starts from the image tag (${plan.from}) and the bot cannot check its health before the upgrade.`,
    });
  }
  const notPassed = automatic.filter((check) => check.result !== 'ok');
  if (notPassed.length > 0) {
    items.push({
      id: 'automatic_checks_ack',
      title: 'Failed or uncertain automatic checks understood',
      why: `Not passed: ${notPassed.map((check) => check.title).join(', ')}.`,
    });
  }
  return items;
}

/** What a rollback cannot undo, as items to confirm: the image tag goes back, the database does not. */
export function rollbackChecklistItems(args: { from: string; to: string; destructive: boolean; migrations: boolean }): ChecklistItem[] {
  const items: ChecklistItem[] = [
    {
      id: 'migrations_not_reversed',
      title: `Understood: going back to ${args.to} does not reverse database migrations`,
      why: `Only the image tag goes back. Migrations that ${args.from} ran stay applied${args.migrations ? ' (this upgrade had some)' : ''}; the older core must cope with the newer schema.`,
    },
    {
      id: 'plugins_may_not_load',
      title: 'Runtime plugins checked',
      why: 'Plugins upgraded in the same window may not load on the older core; the post-flight lists any that are missing.',
    },
    {
      id: 'downtime',
      title: 'Downtime is planned',
      why: 'The container restarts on the previous image.',
    },
  ];
  if (args.destructive) {
    items.unshift({
      id: 'database_restored',
      title: 'The database was restored from the backup taken before the upgrade',
      why: 'A release in the upgraded range ran a destructive migration: the old version cannot run on the migrated data, so a restore must come first.',
    });
  }
  return items;
}

export function newChecklistState(items: ChecklistItem[]): ChecklistState {
  return { items: items.map((item) => item.id), confirmations: [] };
}

export function canConfirm({ userId, approvers }: { userId: string; approvers: ReadonlySet<string> }): boolean {
  return approvers.has(userId);
}

export function confirmationOf(state: ChecklistState, itemId: ChecklistItemId): Confirmation | undefined {
  return state.confirmations.find((confirmation) => confirmation.itemId === itemId);
}

/**
 * Records `userId`'s confirmation of an item. An item already confirmed (by anyone) is left as it is and the
 * same state object comes back, so a double click or a retried delivery changes nothing.
 * With `rules.requireSecondPerson`, the requester may not confirm the last open item when every other
 * confirmation is theirs too: that would leave a checklist no one else can complete.
 * Throws `stale_action` for an item not on this checklist, `not_authorized` for that last click.
 * Who may confirm at all is `canConfirm`'s question, asked by the caller.
 */
export function confirmItem(
  state: ChecklistState,
  itemId: string,
  userId: string,
  at: Date,
  rules?: ApprovalRules,
): ChecklistState {
  const id = state.items.find((item) => item === itemId);
  if (id === undefined) {
    throw new AppError('stale_action', 'That item is not on this checklist any more; use the buttons of the latest message.');
  }
  if (confirmationOf(state, id) !== undefined) return state;
  if (rules?.requireSecondPerson && userId === rules.requester) {
    const open = state.items.filter((item) => confirmationOf(state, item) === undefined);
    const byOthers = state.confirmations.some((confirmation) => confirmation.userId !== rules.requester);
    if (open.length === 1 && !byOthers) {
      throw new AppError(
        'not_authorized',
        'You requested this upgrade, so at least one item must be confirmed by another approver: ask a colleague to confirm this last one.',
      );
    }
  }
  return { ...state, confirmations: [...state.confirmations, { itemId: id, userId, at }] };
}

export function isComplete(state: ChecklistState, rules: ApprovalRules): boolean {
  const allConfirmed = state.items.every((item) => confirmationOf(state, item) !== undefined);
  if (!allConfirmed) return false;
  if (!rules.requireSecondPerson) return true;
  return state.confirmations.some(
    (confirmation) => state.items.includes(confirmation.itemId) && confirmation.userId !== rules.requester,
  );
}

/** Whether `userId` may press **Start upgrade** now. */
export function canStart({
  state,
  status,
  userId,
  approvers,
  rules,
}: {
  state: ChecklistState;
  status: UpgradeStatus;
  userId: string;
  approvers: ReadonlySet<string>;
  rules: ApprovalRules;
}): boolean {
  return status === 'confirming' && approvers.has(userId) && isComplete(state, rules);
}

/** The requester or any approver may cancel. */
export function canCancel({
  userId,
  requester,
  approvers,
}: {
  userId: string;
  requester: string;
  approvers: ReadonlySet<string>;
}): boolean {
  return userId === requester || approvers.has(userId);
}

// ---- the lifecycle of an upgrade request ----

export type UpgradeStatus =
  | 'confirming'
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'expired'
  | 'rolling_back'
  | 'rolled_back';

/** The statuses of an upgrade in flight: a target has at most one (a partial unique index in Postgres holds it). */
export const IN_FLIGHT_STATUSES: readonly UpgradeStatus[] = ['confirming', 'queued', 'running'];

export type UpgradeEvent =
  | 'start'
  | 'cancel'
  | 'expire'
  /** The target's version changed underneath the request. */
  | 'invalidate'
  | 'begin'
  | 'succeed'
  | 'fail'
  | 'rollback'
  | 'rollback_succeeded'
  | 'rollback_failed';

export const UPGRADE_STATUSES: readonly UpgradeStatus[] = [
  'confirming',
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'expired',
  'rolling_back',
  'rolled_back',
];

export const UPGRADE_EVENTS: readonly UpgradeEvent[] = [
  'start',
  'cancel',
  'expire',
  'invalidate',
  'begin',
  'succeed',
  'fail',
  'rollback',
  'rollback_succeeded',
  'rollback_failed',
];

export const TRANSITIONS: Readonly<Record<UpgradeStatus, Partial<Record<UpgradeEvent, UpgradeStatus>>>> = {
  confirming: { start: 'queued', cancel: 'cancelled', expire: 'expired', invalidate: 'expired' },
  queued: { begin: 'running', cancel: 'cancelled', invalidate: 'expired' },
  running: { succeed: 'succeeded', fail: 'failed' },
  succeeded: { rollback: 'rolling_back' },
  failed: { rollback: 'rolling_back' },
  rolling_back: { rollback_succeeded: 'rolled_back', rollback_failed: 'failed' },
  cancelled: {},
  expired: {},
  rolled_back: {},
};

const STATUS_PHRASE: Record<UpgradeStatus, string> = {
  confirming: 'still waiting for its checklist',
  queued: 'already queued',
  running: 'already running',
  succeeded: 'finished (it succeeded)',
  failed: 'finished (it failed)',
  cancelled: 'cancelled',
  expired: 'expired',
  rolling_back: 'being rolled back',
  rolled_back: 'rolled back',
};

const EVENT_PHRASE: Record<UpgradeEvent, string> = {
  start: 'started',
  cancel: 'cancelled',
  expire: 'expired',
  invalidate: 'invalidated',
  begin: 'begun',
  succeed: 'marked as succeeded',
  fail: 'marked as failed',
  rollback: 'rolled back',
  rollback_succeeded: 'marked as rolled back',
  rollback_failed: 'marked as a failed rollback',
};

function refusal(from: UpgradeStatus, event: UpgradeEvent): string {
  if (from === 'running' && event === 'cancel') {
    return 'This upgrade is already running and cannot be stopped halfway. Follow its thread; if it fails, type `/checkstack rollback`.';
  }
  if (event === 'start' || event === 'cancel') {
    const next = from === 'confirming' || from === 'queued' ? '' : ' Type `/checkstack upgrade <version>` for a new request.';
    return `This upgrade request is ${STATUS_PHRASE[from]}, so it cannot be ${EVENT_PHRASE[event]} now: nothing changed.${next}`;
  }
  return `This upgrade request is ${STATUS_PHRASE[from]}, so it cannot be ${EVENT_PHRASE[event]}: nothing changed.`;
}

/** The status after `event`, or `request_not_active` when the event does not apply to `from`. */
export function transition(from: UpgradeStatus, event: UpgradeEvent): UpgradeStatus {
  const to = TRANSITIONS[from]?.[event];
  if (to === undefined) throw new AppError('request_not_active', refusal(from, event), { from, event });
  return to;
}

/** A request that holds its target: no second upgrade or rollback may begin while it is active. */
export function isActive(status: UpgradeStatus): boolean {
  return status === 'confirming' || status === 'queued' || status === 'running' || status === 'rolling_back';
}

export function isExpired(createdAt: Date, now: Date, ttlMs: number = DEFAULT_REQUEST_TTL_MS): boolean {
  return now.getTime() - createdAt.getTime() >= ttlMs;
}
