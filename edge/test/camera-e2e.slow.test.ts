/**
 * End to end on the synthetic RTSP camera: scripted litter items (one per zone) appear and are removed; each must
 * give exactly one litter event with its crop, and each zone one zone_dirty and one zone_clean after removal.
 * Runs the shipped model through CameraService (ffmpeg RTSP → gate → worker → tracker → events).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkConfig, decodeImage, type HutongRecord, type ImageHeader, type LitterRecord, type StateRecord } from '@hutong/protocols';
import { type CameraServer, generateScenario, startCameraServer } from '@hutong/simulators';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { CameraSection } from '../src/camera/config.js';
import { iou } from '../src/camera/geometry.js';
import { CameraService } from '../src/camera/service.js';
import { ClockStamper } from '../src/records/stamper.js';
import { waitFor } from './wait.js';

const MODEL = fileURLToPath(new URL('../models/litter.onnx', import.meta.url));
const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

let server: CameraServer | undefined;
let svc: CameraService | undefined;
afterAll(async () => {
  await svc?.stop();
  await server?.stop();
});

// Runs the shipped model: it is committed, so a missing file is a failure here, not a skip.
describe('camera end to end on the simulated RTSP camera', () => {
  it('the shipped model is present', () => {
    expect(existsSync(MODEL), `${MODEL} missing: it is committed with the repo`).toBe(true);
  });

  it('each scripted item: one litter event with a crop; each zone: dirty once, clean once after removal', async () => {
    const sc = generateScenario({ seed: 11, durationMs: 120_000, items: 3, loop: false });
    // One item per strip zone, large enough to be unmistakable, appearing 3 s apart and staying 12 s.
    sc.items = sc.items.slice(0, 3).map((it, k) => ({
      ...it,
      item: { ...it.item, length: Math.max(it.item.length, 70) },
      x: Math.round((sc.width * (2 * k + 1)) / 6),
      y: Math.round(sc.height * 0.6),
      zone: sc.zones[k]?.id as string,
      appearMs: 6_000 + 3_000 * k,
      removeMs: 18_000 + 3_000 * k,
      fadeInMs: 0,
    }));
    server = await startCameraServer({ fps: 2, width: sc.width, height: sc.height, scenario: sc });
    const cfg = checkConfig(CameraSection, {
      backoffMinS: 0.2,
      backoffMaxS: 2,
      cameras: [
        {
          id: 'cam1',
          url: server.url,
          fps: 2,
          zones: sc.zones,
          model: { path: MODEL },
          motion: { fullCheckS: 2 },
          events: { lostAfterS: 2, minMisses: 2, cleanAfterS: 3 }, // nOfM: the shipped default
        },
      ],
    });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
    const records: { at: number; r: HutongRecord }[] = [];
    const images: ImageHeader[] = [];
    svc = new CameraService({
      config: cfg.value,
      gatewayId: 'gw1',
      sink: { append: async (rs) => void records.push(...rs.map((r) => ({ at: Date.now(), r }))) },
      images: {
        append: async (frame, header) => {
          const d = decodeImage(frame);
          if (d.ok) images.push(header);
        },
      },
      stamper: new ClockStamper(),
      log,
    });
    await svc.start();
    const srv = server;
    const lastRemove = Math.max(...sc.items.map((i) => i.removeMs ?? 0));
    await waitFor(() => srv.now() > lastRemove, 'the script to remove every item', 60_000);
    const cleans = () => records.filter(({ r }) => r.k === 'state' && r.type === 'zone_clean').length;
    const seen = () =>
      records
        .map(({ r, at }) => `${r.k === 'state' ? r.type : r.k}${'zone' in r ? `@${r.zone}` : 'subject' in r ? `@${r.subject}` : ''}+${at - srv.clockStart}ms`)
        .join(', ');
    await waitFor(() => cleans() >= 3, () => `three zone_clean records; records so far: ${seen()}`, 20_000);
    await svc.stop();
    svc = undefined;

    const litter = records.filter(({ r }) => r.k === 'litter') as { at: number; r: LitterRecord }[];
    const states = records.filter(({ r }) => r.k === 'state') as { at: number; r: StateRecord }[];
    const latencies: number[] = [];
    for (const it of sc.items) {
      const truth = srv.groundTruthAt(it.appearMs + 1000).find((g) => g.id === it.id);
      expect(truth).toBeDefined();
      const mine = litter.filter(({ r }) => r.zone === it.zone);
      expect(mine, `events for ${it.id} in ${it.zone}`).toHaveLength(1);
      const ev = mine[0] as { at: number; r: LitterRecord };
      const [x, y, w, h] = ev.r.box;
      expect(iou({ x, y, w, h }, truth?.box as { x: number; y: number; w: number; h: number })).toBeGreaterThan(0.5);
      expect(images.some((im) => im.sha256 === ev.r.img && im.ev === ev.r.ev)).toBe(true);
      latencies.push(ev.at - (srv.clockStart + it.appearMs));
      const zs = states.filter(({ r }) => r.subject === it.zone).map(({ r, at }) => ({ type: r.type, at }));
      expect(zs.map((z) => z.type)).toEqual(['zone_dirty', 'zone_clean']);
      expect((zs[1]?.at ?? 0) - srv.clockStart).toBeGreaterThan(it.removeMs as number);
    }
    console.log('appear → litter event latency (ms):', latencies.join(', '));
  });

  it('an item fading in over 60 s, at the shipped gate defaults: caught within one full-check period, through a camera restart', async () => {
    const sc = generateScenario({ seed: 12, durationMs: 120_000, items: 1, loop: false });
    const fadeInMs = 60_000;
    sc.items = sc.items.slice(0, 1).map((it) => ({
      ...it,
      item: { ...it.item, length: Math.max(it.item.length, 70) },
      x: Math.round(sc.width / 2),
      y: Math.round(sc.height * 0.6),
      zone: sc.zones[1]?.id as string,
      appearMs: 3_000,
      removeMs: null,
      fadeInMs,
    }));
    server = await startCameraServer({ fps: 2, width: sc.width, height: sc.height, scenario: sc });
    // Motion gate and events at their defaults: the slow fade never changes enough pixels between frames, so only
    // the periodic full check (default 10 s) can find it.
    const cfg = checkConfig(CameraSection, {
      backoffMinS: 0.2,
      backoffMaxS: 2,
      cameras: [{ id: 'cam1', url: server.url, fps: 2, zones: sc.zones, model: { path: MODEL } }],
    });
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.issues));
    const fullCheckMs = (cfg.value.cameras[0]?.motion.fullCheckS ?? 0) * 1000;
    const records: { at: number; r: HutongRecord }[] = [];
    svc = new CameraService({
      config: cfg.value,
      gatewayId: 'gw1',
      sink: { append: async (rs) => void records.push(...rs.map((r) => ({ at: Date.now(), r }))) },
      images: { append: async () => undefined },
      stamper: new ClockStamper(),
      log,
    });
    await svc.start();
    const srv = server;
    const s = svc;
    // The camera reboots early in the fade, before the item can be seen: the capture must reconnect on its own.
    await waitFor(() => srv.now() > 8_000, 'scene time 8 s', 40_000);
    const before = s.counters('cam1').restarts ?? 0;
    await srv.restart();
    const restartedAt = srv.now();
    await waitFor(() => (s.counters('cam1').restarts ?? 0) > before, 'the capture to restart after the camera did', 30_000);
    const runs = s.counters('cam1').detector_runs ?? 0;
    await waitFor(() => (s.counters('cam1').detector_runs ?? 0) > runs, 'detector runs after the camera restart', 30_000);

    const litter = () => records.filter(({ r }) => r.k === 'litter') as { at: number; r: LitterRecord }[];
    const item = sc.items[0] as (typeof sc.items)[number];
    const deadline = item.appearMs + fadeInMs + fullCheckMs + 3_000; // + N of M frames to confirm, at 2 fps
    await waitFor(() => litter().length > 0 || srv.now() > deadline + 5_000, 'the faded-in item\'s event', 120_000);
    await new Promise((r) => setTimeout(r, 3_000)); // would a second event follow?
    const c = s.counters('cam1');
    await svc.stop();
    svc = undefined;
    const evs = litter();
    expect(evs, 'one event for the faded-in item').toHaveLength(1);
    const ev = evs[0] as { at: number; r: LitterRecord };
    expect(ev.r.zone).toBe(item.zone);
    const sceneAt = ev.at - srv.clockStart;
    expect(sceneAt, 'found on the stream after the restart').toBeGreaterThan(restartedAt);
    expect(sceneAt, 'caught no later than one full-check period after the fade ended').toBeLessThanOrEqual(deadline);
    // The gate skipped most frames: found by the periodic check, not by running the detector on everything.
    expect(c.gate_skipped ?? 0).toBeGreaterThan(c.detector_runs ?? 0);
    expect(c.gate_periodic ?? 0).toBeGreaterThan(0);
    console.log(`fade-in item: event at scene ${sceneAt} ms (fade ${item.appearMs}–${item.appearMs + fadeInMs} ms, full check ${fullCheckMs} ms); counters`, c);
  });
});
