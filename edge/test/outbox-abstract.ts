import { HutongError } from '@hutong/protocols';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewItem, Outbox, OutboxItem } from '../src/outbox/contract.js';

/** Limits a test may set; the factory fills the rest with defaults and returns an opened outbox. */
export interface OutboxTestLimits {
  maxBytes?: number;
  maxAgeMs?: number;
  liveShare?: number;
  now?: () => number;
  mono?: () => number;
}
export type OutboxFactory = (limits: OutboxTestLimits) => Promise<Outbox>;

/** Frame overhead every item counts besides its payload (queue.ts FRAME_OVERHEAD). */
const OVERHEAD = 28;

export function item(cls: 0 | 1 | 2, text: string, type: 'rec' | 'img' = 'rec'): NewItem {
  return { cls, type, data: new TextEncoder().encode(text) };
}

export function text(it: OutboxItem): string {
  return new TextDecoder().decode(it.data);
}

/** A clock the test moves by hand (no timings in tests). */
export function manualClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/**
 * The contract every Outbox implementation keeps (edge/src/outbox/contract.ts, docs/outbox.md), run against
 * each implementation the way aedes-persistence runs its abstract suite.
 */
export function outboxContract(name: string, factory: OutboxFactory): void {
  describe(`Outbox contract: ${name}`, () => {
    const open: Outbox[] = [];
    async function make(limits: OutboxTestLimits = {}): Promise<Outbox> {
      const ob = await factory(limits);
      open.push(ob);
      return ob;
    }
    afterEach(async () => {
      for (const ob of open.splice(0)) await ob.close();
    });

    it('leases appended items oldest first with increasing ids, and never the same item twice', async () => {
      const ob = await make();
      await ob.append([item(2, 'a'), item(2, 'b')]);
      await ob.append([item(2, 'c')]);
      const first = ob.lease(2, 1 << 20);
      expect(first.map(text)).toEqual(['a', 'b']);
      expect(first[0]!.id).toBeLessThan(first[1]!.id);
      const second = ob.lease(10, 1 << 20);
      expect(second.map(text)).toEqual(['c']);
      expect(second[0]!.id).toBeGreaterThan(first[1]!.id);
      expect(ob.lease(10, 1 << 20)).toEqual([]);
      expect(ob.stats().inFlight).toBe(3);
    });

    it('keeps type, class and append time on leased items', async () => {
      const clock = manualClock();
      const ob = await make({ now: clock.now });
      await ob.append([item(1, 'frame', 'img')]);
      const [got] = ob.lease(1, 1 << 20);
      expect(got).toMatchObject({ cls: 1, type: 'img', at: clock.now() });
      expect(text(got!)).toBe('frame');
    });

    it('serves class 0 before class 1 before class 2, oldest first within a class', async () => {
      const ob = await make();
      await ob.append([item(2, 'bulk1'), item(1, 'scan1'), item(0, 'gate1')]);
      await ob.append([item(2, 'bulk2'), item(0, 'gate2'), item(1, 'scan2')]);
      expect(ob.lease(3, 1 << 20).map(text)).toEqual(['gate1', 'gate2', 'scan1']);
      expect(ob.lease(10, 1 << 20).map(text)).toEqual(['scan2', 'bulk1', 'bulk2']);
    });

    it('stops at maxBytes but always returns at least one item', async () => {
      const ob = await make({ liveShare: 0 });
      await ob.append([item(2, 'x'.repeat(100)), item(2, 'y'.repeat(100)), item(2, 'z')]);
      expect(ob.lease(10, 150).map((i) => i.data.byteLength)).toEqual([100]);
      expect(ob.lease(10, 10).map((i) => i.data.byteLength)).toEqual([100]);
      expect(ob.lease(10, 10).map(text)).toEqual(['z']);
    });

    it('filters by type and leaves the other type waiting', async () => {
      const ob = await make();
      await ob.append([item(0, 'img1', 'img'), item(2, 'rec1'), item(0, 'img2', 'img')]);
      expect(ob.lease(10, 1 << 20, 'rec').map(text)).toEqual(['rec1']);
      expect(ob.lease(10, 1 << 20, 'img').map(text)).toEqual(['img1', 'img2']);
    });

    it('forgets released items and leases requeued ones again, in their original order', async () => {
      const ob = await make();
      await ob.append([item(1, 'a'), item(1, 'b'), item(1, 'c'), item(1, 'd')]);
      const batch = ob.lease(3, 1 << 20);
      await ob.release([batch[1]!.id]);
      ob.requeue([batch[2]!.id, batch[0]!.id]);
      expect(ob.lease(10, 1 << 20).map(text)).toEqual(['a', 'c', 'd']);
      const s = ob.stats();
      expect(s.released).toBe(1);
      expect(s.appended).toBe(4);
      expect(s.depth).toEqual([0, 3, 0]);
      expect(s.inFlight).toBe(3);
    });

    it('ignores releases and requeues of unknown or already released ids', async () => {
      const ob = await make();
      await ob.append([item(2, 'a')]);
      const [a] = ob.lease(1, 1 << 20);
      await ob.release([a!.id, a!.id, 999_999]);
      ob.requeue([a!.id, 424242]);
      expect(ob.lease(10, 1 << 20)).toEqual([]);
      expect(ob.stats()).toMatchObject({ released: 1, depth: [0, 0, 0], inFlight: 0, bytes: 0 });
    });

    it('a requeued item of a higher class goes before waiting lower classes', async () => {
      const ob = await make();
      await ob.append([item(0, 'gate'), item(2, 'bulk1'), item(2, 'bulk2')]);
      const [gate] = ob.lease(1, 1 << 20);
      ob.requeue([gate!.id]);
      expect(ob.lease(2, 1 << 20).map(text)).toEqual(['gate', 'bulk1']);
    });

    it('counts depth, bytes and oldest age', async () => {
      const clock = manualClock();
      const ob = await make({ now: clock.now });
      expect(ob.stats()).toMatchObject({ depth: [0, 0, 0], bytes: 0, inFlight: 0, oldestAgeMs: 0 });
      await ob.append([item(0, 'abc'), item(2, 'defgh')]);
      clock.advance(1500);
      await ob.append([item(2, 'i')]);
      const s = ob.stats();
      expect(s.depth).toEqual([1, 0, 2]);
      expect(s.bytes).toBe(3 + 5 + 1 + 3 * OVERHEAD);
      expect(s.oldestAgeMs).toBe(1500);
      expect(s.appended).toBe(3);
    });

    it('when full, drops the oldest waiting class-2 items and counts them', async () => {
      const ob = await make({ maxBytes: 4 * (OVERHEAD + 10) });
      await ob.append([item(2, 'bulk-00001'), item(0, 'gate-00001'), item(2, 'bulk-00002'), item(2, 'bulk-00003')]);
      await ob.append([item(1, 'scan-00001'), item(2, 'bulk-00004')]);
      const s = ob.stats();
      expect(s.dropped).toEqual([0, 0, 2]);
      expect(s.depth).toEqual([1, 1, 2]);
      expect(ob.lease(10, 1 << 20).map(text)).toEqual(['gate-00001', 'scan-00001', 'bulk-00003', 'bulk-00004']);
    });

    it('never drops class 0/1 or in-flight items: refuses the append with E_OUTBOX_FULL instead', async () => {
      const ob = await make({ maxBytes: 3 * (OVERHEAD + 10) });
      await ob.append([item(0, 'gate-00001'), item(1, 'scan-00001'), item(2, 'bulk-00001')]);
      ob.lease(10, 1 << 20, 'img'); // nothing of that type: nothing leased
      const [first] = ob.lease(1, 1 << 20);
      expect(text(first!)).toBe('gate-00001');
      // Room comes from the waiting bulk item only.
      await ob.append([item(2, 'bulk-00002')]);
      expect(ob.stats().dropped).toEqual([0, 0, 1]);
      // Now the bulk item is in flight too: nothing can be dropped.
      ob.lease(10, 1 << 20);
      const refused = ob.append([item(2, 'bulk-00003')]);
      await expect(refused).rejects.toBeInstanceOf(HutongError);
      await expect(ob.append([item(0, 'gate-00002')])).rejects.toMatchObject({ code: 'E_OUTBOX_FULL' });
      const s = ob.stats();
      expect(s.depth).toEqual([1, 1, 1]);
      expect(s.dropped).toEqual([0, 0, 1]);
      expect(s.refused).toEqual({ full: [1, 0, 1], io: 0 });
      // Releasing makes room again.
      await ob.release([first!.id]);
      await ob.append([item(0, 'gate-00002')]);
      expect(ob.stats().depth).toEqual([1, 1, 1]);
    });

    it('refuses a whole append that cannot fit even after dropping, and drops nothing for it', async () => {
      const ob = await make({ maxBytes: 2 * (OVERHEAD + 10) });
      await ob.append([item(2, 'bulk-00001')]);
      await expect(ob.append([item(0, 'x'.repeat(100))])).rejects.toMatchObject({ code: 'E_OUTBOX_FULL' });
      await expect(ob.append([item(0, 'gate-00001'), item(0, 'gate-00002'), item(0, 'gate-00003')])).rejects.toMatchObject({
        code: 'E_OUTBOX_FULL',
      });
      expect(ob.stats()).toMatchObject({ depth: [0, 0, 1], dropped: [0, 0, 0], appended: 1 });
    });

    it('drops waiting items older than maxAgeMs, of any class, and counts them', async () => {
      const clock = manualClock();
      const ob = await make({ now: clock.now, maxAgeMs: 60_000 });
      await ob.append([item(0, 'old-gate'), item(2, 'old-bulk')]);
      clock.advance(30_000);
      await ob.append([item(2, 'new-bulk')]);
      clock.advance(30_001);
      expect(ob.lease(10, 1 << 20).map(text)).toEqual(['new-bulk']);
      expect(ob.stats()).toMatchObject({ dropped: [1, 0, 1], expired: [1, 0, 1], depth: [0, 0, 1] });
    });

    it('never expires items stamped while the clock was unset (before 2020): their age means nothing', async () => {
      const clock = manualClock(86_400_000); // a box without RTC, booted in 1970
      const ob = await make({ now: clock.now, maxAgeMs: 60_000 });
      await ob.append([item(0, 'gate-before-sync')]);
      clock.advance(1_800_000_000_000); // the clock is set
      expect(ob.lease(10, 1 << 20).map(text)).toEqual(['gate-before-sync']);
      expect(ob.stats().dropped).toEqual([0, 0, 0]);
    });

    it('fills a share of each batch with the newest items so live traffic is not starved by a backlog', async () => {
      const ob = await make({ liveShare: 0.25 });
      const backlog: NewItem[] = [];
      for (let i = 0; i < 100; i++) backlog.push(item(2, `old${i}`));
      await ob.append(backlog);
      await ob.append([item(2, 'live1'), item(2, 'live2')]);
      // 2 of 8 slots go to the newest items, the other 6 to the oldest.
      expect(ob.lease(8, 1 << 20).map(text)).toEqual(['old0', 'old1', 'old2', 'old3', 'old4', 'old5', 'live1', 'live2']);
      await ob.append([item(2, 'live3')]);
      // The backlog drains from both ends.
      expect(ob.lease(4, 1 << 20).map(text)).toEqual(['old6', 'old7', 'old8', 'live3']);
      expect(ob.lease(4, 1 << 20).map(text)).toEqual(['old9', 'old10', 'old11', 'old99']);
    });

    it('the newest share is bounded by bytes too, so big new items do not crowd out the backlog', async () => {
      const ob = await make({ liveShare: 0.25 });
      await ob.append([item(2, 'a'.repeat(100)), item(2, 'b'.repeat(100)), item(2, 'c'.repeat(100)), item(2, 'd'.repeat(100))]);
      await ob.append([item(2, 'e'.repeat(100))]);
      // 4 items × 0.25 = 1 newest slot, but 400 B × 0.25 = 100 B of room for it: e fits exactly.
      expect(ob.lease(4, 400, 'rec').map((i) => text(i)[0])).toEqual(['a', 'b', 'c', 'e']);
      // Now the newest (d, 100 B) does not fit in 90 B of share: the batch is oldest-first.
      expect(ob.lease(4, 360).map((i) => text(i)[0])).toEqual(['d']);
    });

    it('the newest share never overtakes a higher class', async () => {
      const ob = await make({ liveShare: 0.5 });
      await ob.append([item(0, 'gate-old1'), item(0, 'gate-old2'), item(0, 'gate-old3'), item(0, 'gate-old4')]);
      await ob.append([item(2, 'bulk-live')]);
      expect(ob.lease(4, 1 << 20).map(text)).toEqual(['gate-old1', 'gate-old2', 'gate-old3', 'gate-old4']);
    });

    it("a live item that waited behind a higher class still goes with its class's next batch", async () => {
      const ob = await make({ liveShare: 0.25 });
      const backlog: NewItem[] = [];
      for (let i = 0; i < 8; i++) backlog.push(item(0, `gate${i}`));
      for (let i = 0; i < 50; i++) backlog.push(item(2, `bulk${i}`));
      await ob.append(backlog);
      await ob.append([item(2, 'bulk-live')]);
      expect(ob.lease(4, 1 << 20).map(text)).toEqual(['gate0', 'gate1', 'gate2', 'gate7']);
      expect(ob.lease(4, 1 << 20).map(text)).toEqual(['gate3', 'gate4', 'gate5', 'gate6']);
      expect(ob.lease(4, 1 << 20).map(text)).toEqual(['bulk0', 'bulk1', 'bulk2', 'bulk-live']);
    });

    it('a requeued live item is again among the newest', async () => {
      const ob = await make({ liveShare: 0.25 });
      const backlog: NewItem[] = [];
      for (let i = 0; i < 20; i++) backlog.push(item(2, `old${i}`));
      await ob.append(backlog);
      await ob.append([item(2, 'live')]);
      const first = ob.lease(4, 1 << 20);
      expect(first.map(text)).toEqual(['old0', 'old1', 'old2', 'live']);
      ob.requeue([first[3]!.id]);
      expect(ob.lease(4, 1 << 20).map(text)).toEqual(['old3', 'old4', 'old5', 'live']);
    });

    it('forEachHeld visits waiting and in-flight items of one type in append order, not released ones, and leases nothing', async () => {
      const ob = await make();
      await ob.append([item(2, 'a'), item(0, 'b'), item(1, 'x', 'img')]);
      const leased = ob.lease(2, 1 << 20, 'rec');
      expect(leased.map(text)).toEqual(['b', 'a']);
      await ob.append([item(2, 'c'), item(1, 'd')]);
      await ob.release([leased[1]!.id]);
      const seen: string[] = [];
      expect(ob.forEachHeld('rec', (it) => seen.push(text(it)))).toBe(3);
      expect(seen).toEqual(['b', 'c', 'd']);
      const imgs: string[] = [];
      ob.forEachHeld('img', (it) => imgs.push(text(it)));
      expect(imgs).toEqual(['x']);
      // The walk changed no state: the in-flight item stays in flight, the waiting ones are leased next.
      expect(ob.stats().inFlight).toBe(1);
      expect(ob.lease(10, 1 << 20, 'rec').map(text)).toEqual(['d', 'c']);
    });

    it('whenReadable resolves on the next append and on a requeue', async () => {
      const ob = await make();
      let woke = 0;
      const w1 = ob.whenReadable().then(() => woke++);
      await Promise.resolve();
      expect(woke).toBe(0);
      await ob.append([item(1, 'a')]);
      await w1;
      expect(woke).toBe(1);
      const [a] = ob.lease(1, 1 << 20);
      const w2 = ob.whenReadable().then(() => woke++);
      ob.requeue([a!.id]);
      await w2;
      expect(woke).toBe(2);
    });

    it('release resolves and keeps stats consistent under many batches', async () => {
      const ob = await make();
      for (let b = 0; b < 20; b++) {
        const batch: NewItem[] = [];
        for (let i = 0; i < 50; i++) batch.push(item(((b + i) % 3) as 0 | 1 | 2, `r${b}-${i}`));
        await ob.append(batch);
      }
      let seen = 0;
      let lastCls = -1;
      for (;;) {
        const got = ob.lease(64, 1 << 20);
        if (got.length === 0) break;
        for (const g of got) expect(g.cls).toBeGreaterThanOrEqual(lastCls);
        lastCls = got[got.length - 1]!.cls;
        seen += got.length;
        await ob.release(got.map((g) => g.id));
      }
      expect(seen).toBe(1000);
      expect(ob.stats()).toMatchObject({ depth: [0, 0, 0], bytes: 0, inFlight: 0, appended: 1000, released: 1000 });
    });
  });
}
