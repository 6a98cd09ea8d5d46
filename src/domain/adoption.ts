// Which image tags name no exact version, so the version a target runs has to be found another way.
import { isValidVersion } from './versions.js';

/** True for `latest`, `main`, `edge` or an empty tag; false for a version tag such as `0.140.0` or `v0.140.0`. */
export function isFloatingTag(tag: string | null | undefined): boolean {
  return !tag || !isValidVersion(tag);
}

/**
 * The image to go back to after an upgrade from `reference`: itself when it names an exact version or a digest, else
 * (an adopted `:latest`, pinned but not recreated) `<repository>:<version>`, since the floating tag will move on.
 */
export function exactPreviousImage(reference: string, repository: string, version: string): string {
  if (reference.includes('@')) return reference;
  const lastSegment = reference.slice(reference.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  const tag = colon >= 0 ? lastSegment.slice(colon + 1) : 'latest';
  return isFloatingTag(tag) ? `${repository}:${version}` : reference;
}
