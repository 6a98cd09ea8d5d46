import { describe, expect, it } from 'vitest';
import { isFloatingTag } from '../../src/domain/adoption.js';

describe('isFloatingTag', () => {
  it('calls latest, other words and no tag floating', () => {
    for (const tag of ['latest', 'main', 'edge', '0.140', '', null]) expect(isFloatingTag(tag)).toBe(true);
  });
  it('calls exact versions pinned', () => {
    for (const tag of ['0.140.0', 'v0.140.0', '0.141.0-rc.1']) expect(isFloatingTag(tag)).toBe(false);
  });
});
