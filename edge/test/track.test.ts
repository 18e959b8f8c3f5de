import { createHash } from 'node:crypto';
import { compile, decodeImage, type HutongRecord, imageHeader, LitterRecord, StateRecord } from '@hutong/protocols';
import { describe, expect, it } from 'vitest';
import { ClockStamper } from '../src/records/stamper.js';
import { CameraEvents, type ImageOut } from '../src/camera/events.js';
import { Tracker, type TrackInput, type TrackerOptions } from '../src/camera/track.js';
import { rng } from './detect-fixtures.js';

const opts: TrackerOptions = { n: 3, m: 5, lostAfterMs: 5000, minMisses: 3, iouMatch: 0.3, centreMatch: 0.5, smoothing: 0.2 };
const W = 1280;
const H = 720;
const frame = { rgb: new Uint8Array(W * H * 3).fill(90), width: W, height: H };
const litterOk = compile(LitterRecord);
const stateOk = compile(StateRecord);

/** Runs a scripted scene through tracker + events at 2 fps; `seen(i)` gives the detections of run i. */
async function scene(runs: number, seen: (i: number) => TrackInput[], zones = [{ id: 'z-all', polygon: [[0, 0], [W, 0], [W, H], [0, H]] as [number, number][] }]) {
  const tracker = new Tracker(opts);
  const events = new CameraEvents({ gatewayId: 'gw1', cameraId: 'cam1', zones, cleanAfterMs: 10_000, cropMargin: 0.25, cropMinSide: 64 }, new ClockStamper(() => 1_800_000_000_000));
  const records: HutongRecord[] = [];
  const images: ImageOut[] = [];
  for (let i = 0; i < runs; i++) {
    const now = 1_000_000 + i * 500;
    const u = tracker.update(seen(i), now, (d) => events.zoneOf(d));
    const out = await events.afterRun(u, tracker.live(), frame, now);
    records.push(...out.records);
    images.push(...out.images);
  }
  return { records, images, events, tracker };
}

const item = (x: number, y: number, label = 'bottle'): TrackInput => ({ x, y, w: 60, h: 40, label, conf: 0.8 });

describe('tracker and events', () => {
  it('one item seen over 50 runs with jitter and missed runs is one litter event, then one zone_clean after removal', async () => {
    const r = rng(7);
    const j = () => (r() - 0.5) * 8;
    // present for runs 0..49 (missed every 4th run and runs 20..23: a passer-by), gone from run 50 on
    const seen = (i: number) => (i < 50 && i % 4 !== 3 && !(i >= 20 && i <= 23) ? [{ ...item(600 + j(), 400 + j()), conf: 0.6 + r() * 0.3 }] : []);
    const { records, images } = await scene(50 + 40, seen);
    const litter = records.filter((x) => x.k === 'litter');
    const states = records.filter((x) => x.k === 'state');
    expect(litter).toHaveLength(1);
    expect(states.map((s) => (s as StateRecord).type)).toEqual(['zone_dirty', 'zone_clean']);
    for (const s of states) expect(stateOk.check(s)).toBe(true);
    const rec = litter[0] as LitterRecord;
    expect(litterOk.check(rec)).toBe(true);
    expect(rec).toMatchObject({ d: 'cam1', zone: 'z-all', label: 'bottle' });
    expect(Math.abs((rec.box[0] as number) - 600)).toBeLessThan(8);
    // The crop travels as an up/image frame whose hash is the record's img.
    expect(images).toHaveLength(1);
    const img = decodeImage((images[0] as ImageOut).frame);
    if (!img.ok) throw new Error(img.reason);
    expect(imageHeader.check(img.header)).toBe(true);
    expect(img.header).toMatchObject({ gw: 'gw1', camera: 'cam1', ev: rec.ev, sha256: rec.img });
    expect(createHash('sha256').update(img.body).digest('hex')).toBe(rec.img);
    expect([img.body[0], img.body[1]]).toEqual([0xff, 0xd8]); // JPEG
    // zone_clean only after every track was gone for cleanAfter (10 s) past the end of the track (≥ 5 s unseen)
    const cleanIdx = records.indexOf(states[1] as HutongRecord);
    expect(cleanIdx).toBe(records.length - 1);
  });

  it('two items are two events, one zone_dirty; an item outside every zone is no event', async () => {
    const zones = [
      { id: 'lawn', polygon: [[0, 0], [900, 0], [900, 720], [0, 720]] as [number, number][] },
    ];
    const seen = (i: number) => (i < 20 ? [item(100, 100, 'can'), item(500, 300, 'cup'), item(1100, 300, 'bag')] : []);
    const { records } = await scene(20, seen, zones);
    const litter = records.filter((x) => x.k === 'litter') as LitterRecord[];
    expect(litter.map((l) => l.label).sort()).toEqual(['can', 'cup']);
    expect(new Set(litter.map((l) => l.ev)).size).toBe(2);
    expect(records.filter((x) => x.k === 'state')).toHaveLength(1);
  });

  it('a flicker (seen in fewer than n of m runs) is no event', async () => {
    const seen = (i: number) => (i === 3 || i === 6 || i === 12 ? [item(300, 300)] : []);
    const { records, tracker } = await scene(30, seen);
    expect(records).toHaveLength(0);
    expect(tracker.live()).toHaveLength(0);
  });

  it('an item that comes back before the zone is clean keeps the zone dirty: no second zone_dirty', async () => {
    // item A for runs 0..9, gone, item B appears at run 20 (A ended at ≈ run 20, clean needs 20 more runs)
    const seen = (i: number) => (i < 10 ? [item(200, 200)] : i >= 22 && i < 40 ? [item(800, 200)] : []);
    const { records } = await scene(90, seen);
    const kinds = records.map((x) => (x.k === 'state' ? x.type : x.k));
    expect(kinds).toEqual(['litter', 'zone_dirty', 'litter', 'zone_clean']);
  });
});
