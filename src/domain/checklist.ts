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
  | 'restore_data_loss'
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

export type AutomaticCheckId = 'target_ready' | 'deployment_found' | 'master_key_present' | 'platform_warnings' | 'backup_fresh' | 'promotion_proven';

/**
 * The checklist's backup item when the target has `backup`: the bot checks it (the newest backup is newer than
 * `maxAge`), nobody can tick it, and Start is refused while it does not hold.
 */
export const BACKUP_CHECK_ID: AutomaticCheckId = 'backup_fresh';
/**
 * The checklist's promotion item when the target has `promotion`: the bot checks that the version succeeded on the
 * `from` target and ran there for `soak`; Start is refused while it does not hold, unless two approvers override it.
 */
export const PROMOTION_CHECK_ID: AutomaticCheckId = 'promotion_proven';
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
  /** Start needs confirmations by at least this many different people (Restore and roll back: two). */
  minimumApprovers?: number;
}

/** The item of a rollback that restores the pre-upgrade backup into the live database ("Restore and roll back"). */
export const RESTORE_ITEM_ID: ChecklistItemId = 'restore_data_loss';
/** Restore and roll back loses data: two different approvers confirm it, whatever `requireSecondPerson` says. */
export const RESTORE_MINIMUM_APPROVERS = 2;

/** Whether a checklist (a rollback's) restores the database: its items name the restore item. */
export function restoresDatabase(items: readonly { id: ChecklistItemId }[] | readonly ChecklistItemId[]): boolean {
  return items.some((item) => (typeof item === 'string' ? item : item.id) === RESTORE_ITEM_ID);
}

/**
 * Whether a rollback request offers Restore and roll back: the upgraded range ran a destructive migration, the
 * upgrade's Backup step recorded a dump, the target has `backup`, its platform lets the bot restore between stop and
 * start (Docker, where the bot stops the container itself),
 * and a person asked (the bot's own automatic rollback never restores).
 */
export function offersRestore(args: { destructive: boolean; preUpgradeBackup: boolean; targetHasBackup: boolean; platformRestores: boolean; automatic: boolean }): boolean {
  return args.destructive && args.preUpgradeBackup && args.targetHasBackup && args.platformRestores && !args.automatic;
}

/** The approval rules of a request: a restoring rollback needs two different approvers. */
export function approvalRulesFor(items: readonly { id: ChecklistItemId }[] | readonly ChecklistItemId[], rules: ApprovalRules): ApprovalRules {
  return restoresDatabase(items) ? { ...rules, minimumApprovers: RESTORE_MINIMUM_APPROVERS } : rules;
}

function confirmers(state: ChecklistState): Set<string> {
  return new Set(state.confirmations.filter((c) => state.items.includes(c.itemId)).map((c) => c.userId));
}

export const DEFAULT_REQUEST_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The items a person must confirm for this plan; the bot's own checks add one when any did not pass. With
 * `backupCheckedByBot`, the backup item is not a person's to confirm: the bot's `backup_fresh` check stands for it.
 */
export function checklistItems(plan: UpgradePlan, automatic: AutomaticCheck[], options: { backupCheckedByBot?: boolean } = {}): ChecklistItem[] {
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
  if (options.backupCheckedByBot) items.splice(items.findIndex((item) => item.id === 'backup'), 1);
  // The backup check is not acknowledged away: it holds Start until a fresh backup exists.
  // Nor is the promotion check: it holds Start until the version is proven, or two approvers override it.
  const notPassed = automatic.filter((check) => check.result !== 'ok' && check.id !== BACKUP_CHECK_ID && check.id !== PROMOTION_CHECK_ID);
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
export function rollbackChecklistItems(args: {
  from: string;
  to: string;
  destructive: boolean;
  migrations: boolean;
  /** Restore and roll back: the item (worded in src/slack) that restores the pre-upgrade backup first. */
  restore?: ChecklistItem;
}): ChecklistItem[] {
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
  if (args.destructive && args.restore) {
    items.unshift({ ...args.restore, id: RESTORE_ITEM_ID });
  } else if (args.destructive) {
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
  if (rules?.minimumApprovers && rules.minimumApprovers > 1) {
    const open = state.items.filter((item) => confirmationOf(state, item) === undefined);
    const people = confirmers(state);
    people.add(userId);
    if (open.length === 1 && people.size < rules.minimumApprovers) {
      throw new AppError(
        'not_authorized',
        `This checklist restores the database and loses data: it needs ${rules.minimumApprovers} different approvers. Ask a colleague to confirm this last item.`,
      );
    }
  }
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
  if (rules.minimumApprovers && confirmers(state).size < rules.minimumApprovers) return false;
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
  /** Confirmed and started with `--at`: waits for its time (a delayed job), then is checked again and queued. */
  | 'scheduled'
  | 'queued'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'expired'
  | 'rolling_back'
  | 'rolled_back';

/** The statuses of an upgrade in flight: a target has at most one (a partial unique index in Postgres holds it). */
export const IN_FLIGHT_STATUSES: readonly UpgradeStatus[] = ['confirming', 'scheduled', 'queued', 'running'];

export type UpgradeEvent =
  /** Every item confirmed: an approver pressed Start (or the bot started its own automatic rollback). */
  | 'start'
  /** Every item confirmed and Start pressed on a request with `--at`: it waits for its time. */
  | 'schedule'
  /** A scheduled upgrade's time came and its approvals, version and promotion still hold: it is queued. */
  | 'fire'
  /** A scheduled upgrade's time came but something it was approved on no longer holds. */
  | 'lapse'
  /** The started request's job could not be queued: it waits for Start again. */
  | 'unqueue'
  | 'cancel'
  /** Cancelled while the job only waits for its pin pull request to be merged: nothing changed on the target yet. */
  | 'withdraw'
  | 'expire'
  /** The target's version changed underneath the request. */
  | 'invalidate'
  /** The job picks the request up, or picks it up again after a restart. */
  | 'begin'
  | 'succeed'
  | 'fail'
  /** BullMQ gave up on the job outside any step (attempts spent, or it stalled too often). */
  | 'abandon'
  /** A rollback of this upgrade began. */
  | 'rollback'
  | 'rollback_succeeded'
  | 'rollback_failed';

export const UPGRADE_STATUSES: readonly UpgradeStatus[] = [
  'confirming',
  'scheduled',
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
  'schedule',
  'fire',
  'lapse',
  'unqueue',
  'cancel',
  'withdraw',
  'expire',
  'invalidate',
  'begin',
  'succeed',
  'fail',
  'abandon',
  'rollback',
  'rollback_succeeded',
  'rollback_failed',
];

/**
 * In the table: back to the status the upgrade had when it entered the status it leaves now. A failed rollback
 * gives the upgrade back its `succeeded` or `failed`, so the next `/checkstack rollback` can try again.
 */
export const PREVIOUS = 'previous';

export type Destination = UpgradeStatus | typeof PREVIOUS;

/**
 * Every status change of an upgrade, and the only one: the store turns each event into one conditional UPDATE
 * whose allowed "from" statuses come from here, so concurrent clicks and replicas still have exactly one winner.
 */
export const TRANSITIONS: Readonly<Record<UpgradeStatus, Partial<Record<UpgradeEvent, Destination>>>> = {
  confirming: { start: 'queued', schedule: 'scheduled', cancel: 'cancelled', expire: 'expired', invalidate: 'expired' },
  scheduled: { fire: 'queued', lapse: 'expired', cancel: 'cancelled' },
  queued: { unqueue: 'confirming', begin: 'running', cancel: 'cancelled', abandon: 'failed' },
  running: { begin: 'running', withdraw: 'cancelled', succeed: 'succeeded', fail: 'failed', abandon: 'failed' },
  succeeded: { rollback: 'rolling_back' },
  failed: { rollback: 'rolling_back' },
  rolling_back: { rollback_succeeded: 'rolled_back', rollback_failed: PREVIOUS },
  cancelled: {},
  expired: {},
  rolled_back: {},
};

const STATUS_PHRASE: Record<UpgradeStatus, string> = {
  confirming: 'still waiting for its checklist',
  scheduled: 'scheduled',
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
  schedule: 'scheduled',
  fire: 'started at its time',
  lapse: 'given up at its time',
  unqueue: 'put back to its checklist',
  cancel: 'cancelled',
  withdraw: 'cancelled',
  expire: 'expired',
  invalidate: 'invalidated',
  begin: 'begun',
  succeed: 'marked as succeeded',
  fail: 'marked as failed',
  abandon: 'given up',
  rollback: 'rolled back',
  rollback_succeeded: 'marked as rolled back',
  rollback_failed: 'marked as a failed rollback',
};

function refusal(from: UpgradeStatus, event: UpgradeEvent): string {
  if (from === 'running' && event === 'cancel') {
    return 'This upgrade is already running and cannot be stopped halfway. Follow its thread; if it fails, type `/checkstack rollback`.';
  }
  if (event === 'start' || event === 'cancel') {
    const next = from === 'confirming' || from === 'scheduled' || from === 'queued' ? '' : ' Type `/checkstack upgrade <version>` for a new request.';
    return `This upgrade request is ${STATUS_PHRASE[from]}, so it cannot be ${EVENT_PHRASE[event]} now: nothing changed.${next}`;
  }
  return `This upgrade request is ${STATUS_PHRASE[from]}, so it cannot be ${EVENT_PHRASE[event]}: nothing changed.`;
}

/** Whether `event` applies to an upgrade in `status`. */
export function allows(status: UpgradeStatus, event: UpgradeEvent): boolean {
  return TRANSITIONS[status]?.[event] !== undefined;
}

/** The statuses `event` applies to and where each leads, in the order of UPGRADE_STATUSES: what the store's UPDATE allows. */
export function transitionsOf(event: UpgradeEvent): { from: UpgradeStatus; to: Destination }[] {
  return UPGRADE_STATUSES.flatMap((from) => {
    const to = TRANSITIONS[from][event];
    return to === undefined ? [] : [{ from, to }];
  });
}

/** A status some event leaves for PREVIOUS: entering it records the status the upgrade came from. */
export function remembersPrevious(status: UpgradeStatus): boolean {
  return Object.values(TRANSITIONS[status]).includes(PREVIOUS);
}

/**
 * The status after `event`, or `request_not_active` when the event does not apply to `from`. `previous` is the status
 * recorded when the upgrade entered `from` (see `remembersPrevious`): where a PREVIOUS transition leads. It must be a
 * status from which some event leads to `from`, so the upgrade goes back exactly the way it came.
 */
export function transition(from: UpgradeStatus, event: UpgradeEvent, previous?: UpgradeStatus | null): UpgradeStatus {
  const to = TRANSITIONS[from]?.[event];
  if (to === undefined) throw new AppError('request_not_active', refusal(from, event), { from, event });
  if (to !== PREVIOUS) return to;
  const cameFrom = previous ? Object.values(TRANSITIONS[previous]).includes(from) : false;
  if (!previous || !cameFrom) {
    throw new AppError('request_not_active', `This upgrade request is ${STATUS_PHRASE[from]}, and the status it had before is not known: nothing changed.`, { from, event, previous });
  }
  return previous;
}

/** A request that holds its target: no second upgrade or rollback may begin while it is active. */
export function isActive(status: UpgradeStatus): boolean {
  return status === 'confirming' || status === 'scheduled' || status === 'queued' || status === 'running' || status === 'rolling_back';
}

export function isExpired(createdAt: Date, now: Date, ttlMs: number = DEFAULT_REQUEST_TTL_MS): boolean {
  return now.getTime() - createdAt.getTime() >= ttlMs;
}
