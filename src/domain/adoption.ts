// Which image tags name no exact version, so the version a target runs has to be found another way.
import { isValidVersion } from './versions.js';

/** True for `latest`, `main`, `edge` or an empty tag; false for a version tag such as `0.140.0` or `v0.140.0`. */
export function isFloatingTag(tag: string | null | undefined): boolean {
  return !tag || !isValidVersion(tag);
}
