import { type Box, centre, iou } from './geometry.js';

/**
 * Tracks detections across detector runs so one physical item gives one event. Litter does not move, so a track
 * keeps its position with heavy inertia (a jittery box barely moves it), is matched by IoU or, failing that, by
 * centre distance, and survives missed runs (occlusion by a passer-by, a weak frame). A track is confirmed after
 * N hits within its last M runs, and ends only when it was missed for `lostAfterMs` and at least `minMisses` runs.
 */
export interface TrackerOptions {
  /** confirm after n hits within the last m runs */
  n: number;
  m: number;
  /** a confirmed track ends when unseen this long (ms) ... */
  lostAfterMs: number;
  /** ... and over at least this many detector runs */
  minMisses: number;
  /** IoU that matches a detection to a track */
  iouMatch: number;
  /** otherwise, a centre within this share of the track's larger side matches */
  centreMatch: number;
  /** weight of a new observation in the track's box (0..1, small = inertia) */
  smoothing: number;
}

export interface TrackInput extends Box {
  label: string;
  conf: number;
}

export interface Track {
  id: number;
  box: Box;
  /** label of the most confident observation */
  label: string;
  conf: number;
  hits: number;
  /** hit (1) / miss (0) of the last m runs, newest last */
  window: number[];
  misses: number;
  firstSeenMs: number;
  lastSeenMs: number;
  confirmed: boolean;
  /** the observation with the best confidence: the crop is taken from it */
  best: TrackInput;
  /** caller's tag (the zone) */
  zone?: string;
}

export interface TrackUpdate {
  /** tracks confirmed in this run (each exactly once in its life) */
  confirmed: Track[];
  /** confirmed tracks that ended in this run */
  ended: Track[];
  /** new tracks started in this run (tentative) */
  started: Track[];
}

export class Tracker {
  private readonly tracks: Track[] = [];
  private nextId = 1;

  constructor(private readonly o: TrackerOptions) {}

  live(): readonly Track[] {
    return this.tracks;
  }

  /** True while a decision is pending (a tentative track, or a confirmed one currently missed): run the detector. */
  wantsFrames(): boolean {
    return this.tracks.some((t) => !t.confirmed || t.misses > 0);
  }

  update(dets: readonly TrackInput[], nowMs: number, tag?: (d: TrackInput) => string | undefined): TrackUpdate {
    const res: TrackUpdate = { confirmed: [], ended: [], started: [] };
    // Greedy assignment, best pair first: IoU pairs rank above centre-only pairs.
    const pairs: { t: number; d: number; score: number }[] = [];
    for (let ti = 0; ti < this.tracks.length; ti++) {
      const t = this.tracks[ti] as Track;
      const [tx, ty] = centre(t.box);
      const reach = this.o.centreMatch * Math.max(t.box.w, t.box.h);
      for (let di = 0; di < dets.length; di++) {
        const d = dets[di] as TrackInput;
        const v = iou(t.box, d);
        if (v >= this.o.iouMatch) {
          pairs.push({ t: ti, d: di, score: 1 + v });
          continue;
        }
        const [dx, dy] = centre(d);
        const dist = Math.hypot(dx - tx, dy - ty);
        if (dist <= reach) pairs.push({ t: ti, d: di, score: 1 - dist / (reach + 1e-9) });
      }
    }
    pairs.sort((a, b) => b.score - a.score);
    const usedT = new Set<number>();
    const usedD = new Set<number>();
    for (const p of pairs) {
      if (usedT.has(p.t) || usedD.has(p.d)) continue;
      usedT.add(p.t);
      usedD.add(p.d);
      this.hit(this.tracks[p.t] as Track, dets[p.d] as TrackInput, nowMs, res);
    }
    const keep: Track[] = [];
    for (let ti = 0; ti < this.tracks.length; ti++) {
      const t = this.tracks[ti] as Track;
      if (!usedT.has(ti)) {
        t.misses++;
        this.push(t, 0);
        if (t.confirmed) {
          if (t.misses >= this.o.minMisses && nowMs - t.lastSeenMs >= this.o.lostAfterMs) {
            res.ended.push(t);
            continue;
          }
        } else if (t.window.reduce((s, v) => s + v, 0) + (this.o.m - t.window.length) < this.o.n || t.misses > this.o.m) {
          continue; // can no longer reach n hits in m runs: a flicker, dropped silently
        }
      }
      keep.push(t);
    }
    for (let di = 0; di < dets.length; di++) {
      if (usedD.has(di)) continue;
      const d = dets[di] as TrackInput;
      const t: Track = {
        id: this.nextId++,
        box: { x: d.x, y: d.y, w: d.w, h: d.h },
        label: d.label,
        conf: d.conf,
        hits: 0,
        window: [],
        misses: 0,
        firstSeenMs: nowMs,
        lastSeenMs: nowMs,
        confirmed: false,
        best: d,
      };
      const z = tag?.(d);
      if (z !== undefined) t.zone = z;
      this.hit(t, d, nowMs, res, true);
      res.started.push(t);
      keep.push(t);
    }
    this.tracks.length = 0;
    this.tracks.push(...keep);
    return res;
  }

  private hit(t: Track, d: TrackInput, nowMs: number, res: TrackUpdate, fresh = false): void {
    if (!fresh) {
      const a = this.o.smoothing;
      t.box = { x: t.box.x + (d.x - t.box.x) * a, y: t.box.y + (d.y - t.box.y) * a, w: t.box.w + (d.w - t.box.w) * a, h: t.box.h + (d.h - t.box.h) * a };
    }
    t.hits++;
    t.misses = 0;
    t.lastSeenMs = nowMs;
    this.push(t, 1);
    if (d.conf > t.conf || fresh) {
      t.conf = d.conf;
      t.label = d.label;
      t.best = d;
    }
    if (!t.confirmed && t.window.reduce((s, v) => s + v, 0) >= this.o.n) {
      t.confirmed = true;
      res.confirmed.push(t);
    }
  }

  private push(t: Track, v: number): void {
    t.window.push(v);
    if (t.window.length > this.o.m) t.window.shift();
  }
}
