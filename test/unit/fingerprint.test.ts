import { describe, expect, it } from 'vitest';
import { encryptionKeyFingerprint, encryptionKeyFromEnv, fingerprintSecret } from '../../src/domain/fingerprint.js';

const KEY = '0f'.repeat(32);

describe('fingerprintSecret', () => {
  it('is the SHA-256 hex of the value', () => {
    expect(fingerprintSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('encryptionKeyFromEnv', () => {
  it.each([
    ['present', ['PATH=/bin', `ENCRYPTION_MASTER_KEY=${KEY}`], KEY],
    ['absent', ['PATH=/bin'], null],
    ['empty', ['ENCRYPTION_MASTER_KEY='], null],
    ['the last one wins, as in Docker', ['ENCRYPTION_MASTER_KEY=old', `ENCRYPTION_MASTER_KEY=${KEY}`], KEY],
    ['not confused with the previous key', [`ENCRYPTION_MASTER_KEY_PREVIOUS=${KEY}`], null],
    ['no env at all', null, null],
  ])('%s', (_name, env, expected) => {
    expect(encryptionKeyFromEnv(env)).toBe(expected);
  });

  it('fingerprints the key without exposing it', () => {
    expect(encryptionKeyFingerprint([`ENCRYPTION_MASTER_KEY=${KEY}`])).toBe(fingerprintSecret(KEY));
    expect(encryptionKeyFingerprint([])).toBeNull();
  });
});
