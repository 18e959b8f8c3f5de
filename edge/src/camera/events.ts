import { createHash, randomUUID } from 'node:crypto';
import { encodeImage, type HutongRecord, type ImageHeader, type LitterRecord, type StateRecord } from '@hutong/protocols';
import sharp from 'sharp';
import type { Stamper } from '../records/sink.js';
import { type Box, type Polygon, pointInPolygon } from './geometry.js';
import type { Track, TrackUpdate } from './track.js';

/**
 * Turns tracker output into what leaves the site: one `litter` record per confirmed item (with the sha256 of a
 * JPEG crop that goes up as an image item), `zone_dirty` when a zone gets its first item, and `zone_clean` once
 * every track in a dirty zone has been gone for `cleanAfterMs` and a detector run has seen the zone since.
 */
export interface Zone {
  id: string;
  polygon: Polygon;
}

export interface ImageOut {
  frame: Uint8Array;
  header: ImageHeader;
}

export interface EventsOptions {
  gatewayId: string;
  cameraId: string;
  zones: Zone[];
  cleanAfterMs: number;
  /** crop margin around the box, as a share of the box's larger side */
  cropMargin: number;
  /** lower bound on the crop's side, frame px (a tiny box still gives a useful picture) */
  cropMinSide: number;
}

export interface FrameRef {
  rgb: Uint8Array;
  width: number;
  height: number;
}

interface ZoneState {
  dirty: boolean;
  /** when the zone's last track ended (ms), while dirty and empty */
  emptySinceMs?: number;
}

export class CameraEvents {
  private readonly zones = new Map<string, ZoneState>();
  readonly counts = { litter: 0, zone_dirty: 0, zone_clean: 0, images: 0, crop_failed: 0 };

  constructor(
    private readonly o: EventsOptions,
    private readonly stamper: Stamper,
  ) {
    for (const z of o.zones) this.zones.set(z.id, { dirty: false });
  }

  /** The zone a box belongs to (its centre), or undefined when it lies in none. */
  zoneOf(b: Box): string | undefined {
    const cx = b.x + b.w / 2;
    const cy = b.y + b.h / 2;
    for (const z of this.o.zones) if (pointInPolygon(cx, cy, z.polygon)) return z.id;
    return undefined;
  }

  /** True when a dirty zone's clean time is up and only a detector run can confirm it. */
  wantsRun(nowMs: number): boolean {
    for (const s of this.zones.values()) {
      if (s.dirty && s.emptySinceMs !== undefined && nowMs - s.emptySinceMs >= this.o.cleanAfterMs) return true;
    }
    return false;
  }

  /** Call after every detector run with the tracker's result and the frame it ran on. */
  async afterRun(u: TrackUpdate, live: readonly Track[], frame: FrameRef, nowMs: number): Promise<{ records: HutongRecord[]; images: ImageOut[] }> {
    const records: HutongRecord[] = [];
    const images: ImageOut[] = [];
    for (const t of u.confirmed) {
      const zone = t.zone;
      if (zone === undefined) continue;
      const ev = randomUUID();
      const rec: LitterRecord = {
        k: 'litter',
        d: this.o.cameraId,
        ts: this.stamper.stamp(this.o.cameraId),
        ev,
        zone,
        label: t.label,
        conf: Math.round(t.conf * 1000) / 1000,
        box: [Math.round(t.box.x), Math.round(t.box.y), Math.round(t.box.w), Math.round(t.box.h)],
      };
      try {
        const jpeg = await this.crop(frame, t.box);
        const sha256 = createHash('sha256').update(jpeg).digest('hex');
        rec.img = sha256;
        const header: ImageHeader = { v: 1, gw: this.o.gatewayId, id: randomUUID(), sha256, type: 'image/jpeg', camera: this.o.cameraId, ev };
        images.push({ frame: encodeImage(header, jpeg), header });
        this.counts.images++;
      } catch {
        this.counts.crop_failed++; // the event still counts without its picture
      }
      records.push(rec);
      this.counts.litter++;
      const zs = this.zones.get(zone);
      if (zs && !zs.dirty) {
        zs.dirty = true;
        records.push(this.state('zone_dirty', zone, `camera ${this.o.cameraId} event ${ev}`));
        this.counts.zone_dirty++;
      }
    }
    // Zone bookkeeping: a dirty zone with no live track (tentative tracks count: they may be the same item
    // coming back) starts its clean timer; a new track stops it.
    const occupied = new Set<string>();
    for (const t of live) if (t.zone !== undefined) occupied.add(t.zone);
    for (const [id, zs] of this.zones) {
      if (!zs.dirty) continue;
      if (occupied.has(id)) {
        zs.emptySinceMs = undefined;
      } else if (zs.emptySinceMs === undefined) {
        zs.emptySinceMs = nowMs;
      } else if (nowMs - zs.emptySinceMs >= this.o.cleanAfterMs) {
        zs.dirty = false;
        zs.emptySinceMs = undefined;
        records.push(this.state('zone_clean', id, `camera ${this.o.cameraId}`));
        this.counts.zone_clean++;
      }
    }
    return { records, images };
  }

  private state(type: 'zone_dirty' | 'zone_clean', zone: string, detail: string): StateRecord {
    return { k: 'state', d: this.o.cameraId, ts: this.stamper.stamp(this.o.cameraId), type, subject: zone, detail };
  }

  private async crop(f: FrameRef, b: Box): Promise<Uint8Array> {
    const side = Math.max(b.w, b.h);
    const m = side * this.o.cropMargin;
    let w = Math.max(b.w + 2 * m, this.o.cropMinSide);
    let h = Math.max(b.h + 2 * m, this.o.cropMinSide);
    w = Math.min(w, f.width);
    h = Math.min(h, f.height);
    const cx = b.x + b.w / 2;
    const cy = b.y + b.h / 2;
    const left = Math.round(Math.min(Math.max(cx - w / 2, 0), f.width - w));
    const top = Math.round(Math.min(Math.max(cy - h / 2, 0), f.height - h));
    const buf = await sharp(f.rgb, { raw: { width: f.width, height: f.height, channels: 3 } })
      .extract({ left, top, width: Math.min(Math.round(w), f.width - left), height: Math.min(Math.round(h), f.height - top) })
      .jpeg({ quality: 85 })
      .toBuffer();
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
}
