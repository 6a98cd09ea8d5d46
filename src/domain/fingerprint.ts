// Secrets are compared by fingerprint only: the value itself never leaves the container's environment.
import { createHash } from 'node:crypto';

const ENCRYPTION_KEY_VAR = 'ENCRYPTION_MASTER_KEY';

/** SHA-256 of the value, hex. Stable across runs so a pre-flight fingerprint can be compared later. */
export function fingerprintSecret(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** The value of `ENCRYPTION_MASTER_KEY` in a `KEY=value` list (the last one wins, as in Docker), or null when absent or empty. */
export function encryptionKeyFromEnv(env: readonly string[] | null | undefined): string | null {
  let value: string | null = null;
  for (const entry of env ?? []) {
    if (entry.startsWith(`${ENCRYPTION_KEY_VAR}=`)) value = entry.slice(ENCRYPTION_KEY_VAR.length + 1);
  }
  return value ? value : null;
}

/** The fingerprint of the encryption key in a `KEY=value` list, or null when there is none. */
export function encryptionKeyFingerprint(env: readonly string[] | null | undefined): string | null {
  const key = encryptionKeyFromEnv(env);
  return key === null ? null : fingerprintSecret(key);
}
