// Who plans and approves the bench upgrades, where, and between which versions (shared by the bench parts and the
// upgrade-bot child; a module of its own because importing a child script would run it).
export const FROM_VERSION = '0.28.0';
export const TO_VERSION = '0.30.0';
export const REQUESTER = 'U0BENCHREQ';
export const APPROVER = 'U0BENCHAPP';
export const UPGRADE_CHANNEL = 'C0BENCHUPG';
