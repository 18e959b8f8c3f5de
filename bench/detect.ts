/**
 * Camera path benchmark (reference compound: 1 camera, 1280×720 at 2 fps).
 *
 *  1. Per-frame work from a decoded frame to events — letterbox, inference, decode/NMS (in the detector worker),
 *     tracking and events (main thread) — against a bare `session.run` on the same warmed session, interleaved,
 *     median of ≥ 200 frames each. Target: ≤ 1.3×.
 *  2. ffmpeg's CPU while capturing the simulated RTSP camera (share of one core).
 *  3. The share of inferences the motion gate skips on a static scene (target ≥ 90 %).
 *  4. With a trained model: item appearing at the RTSP source → litter event, p95 (target ≤ 2 s), with the camera
 *     streaming 10 fps (a typical sub-stream) and 2 fps; the gateway processes 2 fps (its default) in both. ffmpeg
 *     hands over a frame one source frame after the camera sent it (the H.264 parser closes an access unit when the
 *     next starts), so a 2 fps source alone costs ≈ 0.5 s (docs/camera.md).
 *
 *   npx tsx bench/detect.ts                 # BENCH_FRAMES=300 by default
 *   BENCH_MODEL=path.onnx npx tsx bench/detect.ts
 *
 * Uses edge/models/litter.onnx when present; otherwise an untrained stand-in of the same contract, built here.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateScenario, startCameraServer } from '@hutong/simulators';
import sharp from 'sharp';
import { checkConfig } from '@hutong/protocols';
import { FfmpegCapture } from '../edge/src/camera/capture.js';
import { CameraSection } from '../edge/src/camera/config.js';
import { Detector } from '../edge/src/camera/detect/detector.js';
import { CameraEvents } from '../edge/src/camera/events.js';
import { MotionGate } from '../edge/src/camera/motion.js';
import { CameraService } from '../edge/src/camera/service.js';
import { Tracker } from '../edge/src/camera/track.js';
import { ClockStamper } from '../edge/src/records/stamper.js';
import { randomDetector, rng } from '../edge/test/detect-fixtures.js';
import { benchLogger, finalLine, fmt, median, percentile, printTable, sleep } from './harness.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const FRAMES = Number(process.env.BENCH_FRAMES ?? 300);
const W = 1280;
const H = 720;
const log = benchLogger();

async function loadFrames(): Promise<Uint8Array[]> {
  const dir = join(root, 'edge/models/heldout');
  const frames: Uint8Array[] = [];
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.jpg')).sort().slice(0, 24)) {
      const buf = await sharp(join(dir, f)).resize(W, H, { fit: 'fill' }).removeAlpha().raw().toBuffer();
      frames.push(new Uint8Array(buf));
    }
  }
  if (frames.length === 0) {
    // ffmpeg's own test source, 24 frames
    const cap = new FfmpegCapture({ url: `lavfi:testsrc2=size=${W}x${H}:rate=10`, fps: 10, queueSize: 64, stallMs: 5000, backoffMinMs: 500, backoffMaxMs: 2000, ffmpegPath: 'ffmpeg' }, log);
    await cap.start();
    while (frames.length < 24) {
      const f = await cap.next();
      if (f) frames.push(f.rgb);
    }
    await cap.stop();
  }
  // As the capture delivers them: in shared memory, so the worker reads them without a copy.
  return frames.map((f) => {
    const shared = new Uint8Array(new SharedArrayBuffer(f.length));
    shared.set(f);
    return shared;
  });
}

/** utime + stime of a process in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Latency from an item appearing at the RTSP source to its litter event: 12 scripted items appear 4.5 s apart at
 * phases spread over the processing period (each in its own spot, at once, staying 20 s), read through CameraService
 * exactly as the agent runs it. `sourceFps` is the rate the camera streams at; the gateway processes 2 fps (its
 * default) whatever the source sends.
 */
interface Latency {
  /** item appearing at the source → its litter event (ms) */
  event: number[];
  /** → the first frame read that shows it (its spot changed) */
  frame: number[];
  /** → the end of the first detector run that found it */
  firstDet: number[];
  /** frame read → detector run done, every run while items were on screen */
  runMs: number[];
  /** frames read but never processed (the pipeline was behind) */
  dropped: number;
}

const N_ITEMS = 12;
const SPACING_MS = 4_500;

async function sourceToEvent(modelPath: string, sourceFps: number): Promise<Latency> {
  const sc = generateScenario({ seed: 5, durationMs: 120_000, items: N_ITEMS, loop: false });
  const cols = 4;
  const rows = Math.ceil(N_ITEMS / cols);
  sc.items = sc.items.slice(0, N_ITEMS).map((it, k) => ({
    ...it,
    item: { ...it.item, length: Math.max(it.item.length, 60) },
    x: Math.round((W * ((k % cols) + 0.5)) / cols),
    y: Math.round((H * (Math.floor(k / cols) + 0.5)) / rows),
    appearMs: 5_000 + SPACING_MS * k + ((k * 173) % 500),
    removeMs: 25_000 + SPACING_MS * k,
    fadeInMs: 0,
  }));
  const server = await startCameraServer({ fps: sourceFps, width: W, height: H, scenario: sc });
  const events: { at: number; box: number[] }[] = [];
  const runs: { atMs: number; doneMs: number; boxes: number[][] }[] = [];
  // The first frame that shows each item: its spot differs from how it looked before the item appeared.
  const spot = (rgb: Uint8Array, x: number, y: number) => {
    const out: number[] = [];
    for (let yy = y - 16; yy < y + 16; yy += 2) for (let xx = x - 16; xx < x + 16; xx += 2) out.push(rgb[(yy * W + xx) * 3 + 1] as number);
    return out;
  };
  const before: (number[] | undefined)[] = [];
  const shownAt: (number | undefined)[] = [];
  const svc = new CameraService({
    onFrame: (_cam, f, ran, dets) => {
      if (ran) runs.push({ atMs: f.atMs, doneMs: Date.now(), boxes: dets.map((d) => [d.x, d.y, d.w, d.h]) });
      sc.items.forEach((it, k) => {
        const at = server.clockStart + it.appearMs;
        const ref = before[k];
        if (shownAt[k] !== undefined || (f.atMs >= at && !ref)) return; // decided, or no picture of the spot before
        const s = spot(f.rgb, it.x, it.y);
        if (f.atMs < at) before[k] = s;
        else if (ref && s.reduce((sum, v, i) => sum + Math.abs(v - (ref[i] as number)), 0) / s.length > 10) shownAt[k] = f.atMs - at;
      });
    },
    config: {
      ffmpegPath: 'ffmpeg',
      backoffMinS: 0.5,
      backoffMaxS: 5,
      cameras: [cameraConfig(server.url, modelPath)],
    },
    gatewayId: 'gw-bench',
    sink: {
      append: async (rs) => {
        for (const r of rs) if (r.k === 'litter') events.push({ at: Date.now(), box: r.box });
      },
    },
    images: { append: async () => undefined },
    stamper: new ClockStamper(),
    log,
  });
  await svc.start();
  const end = 5_000 + SPACING_MS * N_ITEMS + 3_000;
  while (server.now() < end) await sleep(500);
  const dropped = svc.counters('cam1').dropped ?? 0;
  await svc.stop();
  await server.stop();
  const out: Latency = { event: [], frame: [], firstDet: [], runMs: runs.map((r) => r.doneMs - r.atMs), dropped };
  const near = (b: number[], x: number, y: number) => Math.abs((b[0] ?? 0) + (b[2] ?? 0) / 2 - x) < 60 && Math.abs((b[1] ?? 0) + (b[3] ?? 0) / 2 - y) < 60;
  sc.items.forEach((it, k) => {
    const { x, y } = it;
    const at = server.clockStart + it.appearMs;
    const ev = events.find((e) => near(e.box, x, y));
    if (ev) out.event.push(ev.at - at);
    const shown = shownAt[k];
    if (shown !== undefined) out.frame.push(shown);
    const first = runs.find((r) => r.atMs >= at && r.boxes.some((b) => near(b, x, y)));
    if (first) out.firstDet.push(first.doneMs - at);
  });
  return out;
}

function cameraConfig(url: string, modelPath: string): CameraSection['cameras'][number] {
  const r = checkConfig(CameraSection, { cameras: [{ id: 'cam1', url, fps: 2, model: { path: modelPath } }] });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.value.cameras[0] as CameraSection['cameras'][number];
}

async function main(): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'hutong-bench-detect-'));
  let modelPath = process.env.BENCH_MODEL ?? join(root, 'edge/models/litter.onnx');
  let modelNote = modelPath.replace(root, '');
  const modelIsReal = existsSync(modelPath);
  if (!modelIsReal) {
    modelPath = join(tmp, 'standin.onnx');
    writeFileSync(modelPath, randomDetector(5, 1, JSON.stringify({ 0: 'bottle', 1: 'can', 2: 'cup', 3: 'bag', 4: 'paper' })));
    modelNote = 'untrained stand-in (edge/models/litter.onnx not present)';
  }
  const frames = await loadFrames();
  const det = new Detector({ path: modelPath, format: 'yolov8', conf: 0.5, iou: 0.45 }, log);
  const info = await det.start();
  const tracker = new Tracker({ n: 3, m: 5, lostAfterMs: 5000, minMisses: 3, iouMatch: 0.3, centreMatch: 0.5, smoothing: 0.2 });
  const events = new CameraEvents(
    { gatewayId: 'gw1', cameraId: 'cam1', zones: [{ id: 'all', polygon: [[0, 0], [W, 0], [W, H], [0, H]] }], cleanAfterMs: 10_000, cropMargin: 0.25, cropMinSide: 64 },
    new ClockStamper(),
  );

  // 1. pipeline vs bare session.run, interleaved on one warmed session
  for (let i = 0; i < 20; i++) {
    await det.detect(frames[i % frames.length] as Uint8Array, W, H);
    await det.bareRun();
  }
  const pipe: number[] = [];
  const bare: number[] = [];
  const pre: number[] = [];
  const run: number[] = [];
  const post: number[] = [];
  const trackMs: number[] = [];
  let dets = 0;
  for (let i = 0; i < FRAMES; i++) {
    const f = frames[i % frames.length] as Uint8Array;
    const t0 = performance.now();
    const r = await det.detect(f, W, H);
    const t1 = performance.now();
    const u = tracker.update(r.dets, i * 500, (d) => events.zoneOf(d));
    await events.afterRun(u, tracker.live(), { rgb: f, width: W, height: H }, i * 500);
    const t2 = performance.now();
    pipe.push(t2 - t0);
    trackMs.push(t2 - t1);
    pre.push(r.preMs);
    run.push(r.runMs);
    post.push(r.postMs);
    dets += r.dets.length;
    bare.push(await det.bareRun());
  }
  await det.stop();

  // 2. ffmpeg CPU while capturing 1280×720 at 2 fps from the simulated RTSP camera (H.264 decode)
  const camServer = await startCameraServer({ fps: 2, width: W, height: H, seed: 5 });
  const capUrl = camServer.url;
  const cap = new FfmpegCapture({ url: capUrl, fps: 2, queueSize: 2, stallMs: 10_000, backoffMinMs: 500, backoffMaxMs: 2000, ffmpegPath: 'ffmpeg' }, log);
  await cap.start();
  const drain = (async () => {
    for (;;) if (!(await cap.next())) return;
  })();
  while (cap.counters.frames < 2) await sleep(200);
  const pid = cap.pid() as number;
  const f0 = cap.counters.frames;
  const c0 = cpuSeconds(pid);
  const w0 = performance.now();
  await sleep(8000);
  const ffCpu = ((cpuSeconds(pid) - c0) / ((performance.now() - w0) / 1000)) * 100;
  const capFps = (cap.counters.frames - f0) / 8;
  await cap.stop();
  await drain;
  await camServer.stop();
  // 4. item at the source → event, with the camera streaming at a typical sub-stream rate and at the gateway's own 2 fps
  const none: Latency = { event: [], frame: [], firstDet: [], runMs: [], dropped: 0 };
  const latNote: Record<number, string> = {};
  const lat: Record<number, Latency> = {};
  for (const fps of [10, 2]) {
    lat[fps] = modelIsReal
      ? await sourceToEvent(modelPath, fps).catch((e: Error) => {
          latNote[fps] = e.message.split('\n')[0] ?? 'failed';
          return none;
        })
      : none;
    if (!modelIsReal) latNote[fps] = 'no trained model';
    else if ((lat[fps] as Latency).event.length === 0) latNote[fps] ??= 'no item was detected';
  }
  const medOr = (a: number[]) => (a.length > 0 ? fmt(median(a)) : 'n/a');
  const latRows = [10, 2].flatMap((fps) => {
    const l = lat[fps] as Latency;
    return [
      [
        `item at a ${fps} fps RTSP source → litter event, p95 (ms)`,
        l.event.length > 0 ? `${fmt(percentile(l.event, 95))} (median ${fmt(median(l.event))}, n=${l.event.length}/${N_ITEMS})` : `n/a (${latNote[fps] ?? ''})`,
      ],
      ['  source → first frame read that shows it, median (ms)', medOr(l.frame)],
      ['  source → first detector run that found it, median (ms)', medOr(l.firstDet)],
      ['  frame read → detector run done, median (ms)', `${medOr(l.runMs)} (frames dropped: ${l.dropped})`],
    ];
  });

  // 3. motion gate on a static scene: one real frame + sensor noise, 10 min at 2 fps
  const gate = new MotionGate({ width: 160, height: 90, pixelDelta: 18, threshold: 0.002, alpha: 0.05, fullCheckMs: 10_000 });
  const still = frames[0] as Uint8Array;
  const noisy = Array.from({ length: 4 }, (_, k) => {
    const r = rng(k + 1);
    return still.map((v) => Math.max(0, Math.min(255, v + Math.round((r() - 0.5) * 12))));
  });
  const gateMs: number[] = [];
  const N_GATE = 1200;
  for (let i = 0; i < N_GATE; i++) {
    const t0 = performance.now();
    gate.check(noisy[i % noisy.length] as Uint8Array, W, H, i * 500);
    gateMs.push(performance.now() - t0);
  }
  const skipShare = gate.counts.skipped / N_GATE;

  rmSync(tmp, { recursive: true, force: true });
  const mp = median(pipe);
  const mb = median(bare);
  console.log(`model: ${modelNote}, input ${info.inputW}×${info.inputH}, output [${info.outputDims.join(', ')}]; frames: ${frames.length} distinct 1280×720, ${FRAMES} measured`);
  printTable([
    ['per frame (ms)', 'median', 'p95'],
    ['pipeline: frame → events', fmt(mp, 2), fmt(percentile(pipe, 95), 2)],
    ['  letterbox (worker)', fmt(median(pre), 2), fmt(percentile(pre, 95), 2)],
    ['  session.run in pipeline', fmt(median(run), 2), fmt(percentile(run, 95), 2)],
    ['  decode + NMS', fmt(median(post), 2), fmt(percentile(post, 95), 2)],
    ['  tracking + events (main)', fmt(median(trackMs), 2), fmt(percentile(trackMs, 95), 2)],
    ['bare session.run', fmt(mb, 2), fmt(percentile(bare, 95), 2)],
    ['motion gate check', fmt(median(gateMs), 2), fmt(percentile(gateMs, 95), 2)],
  ]);
  printTable([
    ['other figures', 'value'],
    ['detections per frame (mean)', fmt(dets / FRAMES, 2)],
    ['ffmpeg CPU while capturing RTSP H.264 1280×720 2 fps (% of one core)', fmt(ffCpu, 1)],
    ['capture rate (frames/s, target 2)', fmt(capFps, 2)],
    ['motion gate: inferences skipped, static scene', `${fmt(skipShare * 100, 1)} %`],
    ...latRows,
  ]);
  finalLine('detect', `${fmt(mp, 1)} ms/frame`, mp / mb, 'bare session.run');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
