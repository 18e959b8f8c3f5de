import { describe, expect, it } from 'vitest';
import { Priority } from '@hutong/protocols';
import type { OutboxItem } from '../src/outbox/contract.js';
import { type HeldVisitor, restoreHeld } from '../src/records/held.js';

const enc = new TextEncoder();

/** The outbox's read-only walk over held records, over a list (the outbox itself is tested in outbox-*.test.ts). */
function heldOf(texts: string[]) {
  let walks = 0;
  const items: OutboxItem[] = texts.map((t, i) => ({ id: i + 1, at: 0, type: 'rec', cls: Priority.normal, data: enc.encode(t) }));
  return {
    walks: () => walks,
    forEachHeld(_type: 'rec', fn: (item: OutboxItem) => void): number {
      walks++;
      for (const it of items) fn(it);
      return items.length;
    },
  };
}

function visitor(name: string, marker: string, taken: Record<string, unknown>[]): HeldVisitor {
  return {
    name,
    wants: (text) => text.includes(marker),
    take: (rec) => {
      if (typeof rec.n !== 'number') return false;
      taken.push(rec);
      return true;
    },
  };
}

describe('restoreHeld: one pass over the held records for every service', () => {
  it('walks once, hands each record to every visitor that wants it, in append order, and counts per visitor', () => {
    const outbox = heldOf([
      '{"k":"park","fc":1,"n":1}',
      '{"k":"scan","n":2}',
      '{"k":"park","fc":2,"rid":7,"n":3}',
      '{"k":"gate","rid":8}', // wanted, but its take refuses it (no n)
      '{"k":"park","fc":3,', // torn: skipped
      '"just a string with "fc":"',
      '{"k":"other","n":9}',
    ]);
    const a: Record<string, unknown>[] = [];
    const b: Record<string, unknown>[] = [];
    const c: Record<string, unknown>[] = [];
    const r = restoreHeld(outbox, [visitor('parking', '"fc":', a), visitor('bins', '"k":"scan"', b), visitor('gates', '"rid":', c)]);
    expect(outbox.walks()).toBe(1);
    expect(r).toEqual({ held: 7, seeded: { parking: 2, bins: 1, gates: 1 } });
    expect(a.map((x) => x.n)).toEqual([1, 3]);
    expect(b.map((x) => x.n)).toEqual([2]);
    expect(c.map((x) => x.n)).toEqual([3]);
  });

  it('an empty outbox restores nothing and still reports every visitor', () => {
    const r = restoreHeld(heldOf([]), [visitor('parking', '"fc":', [])]);
    expect(r).toEqual({ held: 0, seeded: { parking: 0 } });
  });
});
