// Every action_id and block_id the bot's messages carry, and that its click router matches: one place, so a
// presenter and the handler of its button cannot drift apart.

export const ACTION_IDS = {
  /** One per checklist item: `confirm:<item id>`. */
  confirm: (itemId: string) => `confirm:${itemId}`,
  confirmPrefix: 'confirm:',
  start: 'start_upgrade',
  cancel: 'cancel_upgrade',
  /** On a failed upgrade's parent message and its failure reply. */
  rollback: 'rollback_upgrade',
  stopLogWatch: 'stop_log_watch',
  planUpgrade: 'plan_upgrade',
  /** On the Home tab, per target: value `<target> <version>` (a Home click has no channel nor message to answer in). */
  homePlanUpgrade: 'home_plan_upgrade',
  /** The promotion gate's override: "ship without a green run on `from`", two approvers. */
  promotionOverride: 'promotion_override',
  /** On a scheduled upgrade's reminder. */
  cancelScheduled: 'cancel_scheduled_upgrade',
  /** On an automatic patch upgrade's notice. */
  cancelAutoUpgrade: 'auto_upgrade_cancel',
  /**
   * **Pin to <version>**, offered for a target that runs a floating tag (`/checkstack status`, a refused upgrade, App
   * Home). Its value is `targetVersionValue(target, version)`.
   */
  pinVersion: 'pin_version',
  /** A link button: Slack sends a click for it too, which only needs an ack. */
  releaseNotes: 'open_release_notes',
} as const;

/** The value of a **Pin** or a Home tab's **Plan upgrade** button: `"<target> <version>"` (target names hold no space). */
export function targetVersionValue(target: string, version: string): string {
  return `${target} ${version}`;
}

/** Reads such a button's value back; null when it is not `"<target> <version>"`. */
export function parseTargetVersionValue(value: string): { target: string; version: string } | null {
  const match = /^(\S{1,128}) (\S{1,64})$/.exec(value);
  return match ? { target: match[1]!, version: match[2]! } : null;
}

/** Link buttons: acknowledged, nothing else. */
export const LINK_BUTTON_ACTIONS: readonly string[] = [ACTION_IDS.releaseNotes];

export const BLOCK_IDS = {
  checklist: {
    header: 'header',
    meta: 'meta',
    status: 'status',
    rollbackNotice: 'rollback_notice',
    plan: 'plan',
    versionWarning: 'version_warning',
    flags: 'flags',
    breaking: 'breaking',
    automatic: 'automatic',
    divider: 'divider',
    intro: 'checklist_intro',
    actions: 'actions',
    /** One per checklist item. */
    item: (itemId: string) => `item:${itemId}`,
  },
  rollbackButton: (upgradeId: string) => `rollback-${upgradeId}`,
  logWatchStop: (upgradeId: string) => `log_watch:${upgradeId}`,
  /** The Home tab: one section and one actions block per target. */
  home: {
    header: 'home_header',
    updated: 'home_updated',
    target: (target: string) => `home_target:${target}`,
    actions: (target: string) => `home_actions:${target}`,
    more: 'home_more',
  },
} as const;
