import { describe, expect, it } from 'vitest';
import { compareRowCounts, drillDatabaseName, isDrillDatabaseOf } from '../../src/domain/drill.js';
import { drillImage } from '../../src/targets/docker-drill.js';

describe('restore drill rules', () => {
  it('compares row counts both ways, in table order', () => {
    expect(compareRowCounts({ 'a.x': 1, 'a.y': 2, 'a.z': 0 }, { 'a.x': 1, 'a.y': 3, 'a.w': 0 })).toEqual([
      { table: 'a.w', expected: null, restored: 0 },
      { table: 'a.y', expected: 2, restored: 3 },
      { table: 'a.z', expected: 0, restored: null },
    ]);
    expect(compareRowCounts({ 'a.x': 1 }, { 'a.x': 1 })).toEqual([]);
  });

  it.each([
    ['checkstack_drill_0badf00d', true],
    ['checkstack_drill_0BADF00D', false],
    ['checkstack_drill_0badf00', false],
    ['checkstack_drill_0badf00dd', false],
    ['checkstack', false],
    ['checkstack_other_drill_0badf00d', false],
  ])('%s is a drill database of checkstack: %s', (name, expected) => {
    expect(isDrillDatabaseOf('checkstack', name)).toBe(expected);
  });

  it('names the drill database after the live one', () => {
    expect(drillDatabaseName('checkstack', '0badf00d')).toBe('checkstack_drill_0badf00d');
  });

  it.each([
    ['ghcr.io/enyineer/checkstack:0.141.0', 'ghcr.io/enyineer/checkstack:0.140.0'],
    ['127.0.0.1:5000/checkstack:0.141.0', '127.0.0.1:5000/checkstack:0.140.0'],
    ['127.0.0.1:5000/checkstack', '127.0.0.1:5000/checkstack:0.140.0'],
    ['ghcr.io/enyineer/checkstack:0.141.0@sha256:abc', 'ghcr.io/enyineer/checkstack:0.140.0'],
  ])('the drill image of %s at 0.140.0 is %s', (live, expected) => {
    expect(drillImage(live, '0.140.0')).toBe(expected);
  });
});
