// What each kind of version bump means for an operator deciding whether to upgrade (Checkstack is 0.x BETA:
// breaking changes ship in minor releases).
import type { Bump } from './release-types.js';

const POLICY_HINTS: Record<Bump, string> = {
  major: 'major: breaking changes expected; read every breaking change and take a database backup before upgrading',
  minor: 'minor: may contain breaking changes, read the notes before upgrading',
  patch: 'patch: no breaking changes; safe after a green pre-prod run',
  prerelease: 'prerelease: for pre-prod testing only, not for production',
  first: 'first release seen: nothing to compare with, read the notes before upgrading',
};

export function policyHint(bump: Bump): string {
  return POLICY_HINTS[bump];
}
