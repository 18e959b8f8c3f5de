import { describe, expect, it } from 'vitest';
import { isValidId } from '@hutong/protocols';
import { deviceInventory, districtProfile, liveRecordRate, referenceCompound } from '../src/index.js';

describe('reference compound', () => {
  const p = referenceCompound();
  it('has the sizes DESIGN.md names', () => {
    expect(p.bins).toHaveLength(200);
    expect(p.scanners).toHaveLength(4);
    expect(p.lots.reduce((n, l) => n + l.spaces.length, 0)).toBe(300);
    expect(p.gates).toHaveLength(4);
    expect(p.cameras).toEqual([expect.objectContaining({ fps: 2, width: 1280, height: 720 })]);
  });
  it('is reproducible from its seed and every id is a valid id', () => {
    expect(referenceCompound(7)).toEqual(referenceCompound(7));
    expect(referenceCompound(7)).not.toEqual(referenceCompound(8));
    const ids = deviceInventory(p).map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every(isValidId)).toBe(true);
  });
  it('produces about 11 records per second', () => {
    expect(liveRecordRate(p)).toBeGreaterThan(10);
    expect(liveRecordRate(p)).toBeLessThan(12);
  });
});

describe('district', () => {
  it('is at least 100 gateways with distinct ids', () => {
    const d = districtProfile();
    expect(d.length).toBeGreaterThanOrEqual(100);
    expect(new Set(d.map((c) => c.gatewayId)).size).toBe(d.length);
  });
});
