import type { WasteCategory } from '@hutong/protocols';
import { pick, rng } from './rng.js';

/**
 * The shared measuring stick (DESIGN.md): one named reference compound, defined once here and used by the
 * demo, the fault harness and every benchmark. A district is many such compounds, each its own gateway with
 * its own credentials.
 */
export interface BinSpec {
  id: string;
  category: WasteCategory;
  grid: string;
  /** Hours between scheduled collections. */
  everyH: number;
}
export interface SpaceSpec {
  id: string;
  sensor: string;
  type: 'normal' | 'visitor' | 'no_parking' | 'shared';
}
export interface LotSpec {
  id: string;
  grid: string;
  spaces: SpaceSpec[];
}
export interface ReaderSpec {
  id: string;
  dir: 'in' | 'out';
}
export interface GateSpec {
  id: string;
  grid: string;
  readers: ReaderSpec[];
}
export interface ScannerSpec {
  id: string;
  transport: 'tcp' | 'serial' | 'mqtt';
}
export interface CameraSpec {
  id: string;
  grid: string;
  fps: number;
  width: number;
  height: number;
}
export interface CompoundRates {
  /** Each parking sensor reports this often, plus on every state change. */
  parkingPeriodS: number;
  /** Chance per sensor per period that its space changes state. */
  parkingChangeP: number;
  /** Each gate sees a pass this often. */
  passEveryS: number;
  /** Bin scans per hour across the compound (a crew round empties every bin about twice a day). */
  scansPerHour: number;
}
export interface CompoundProfile {
  name: string;
  seed: number;
  gatewayId: string;
  compound: string;
  grids: string[];
  bins: BinSpec[];
  scanners: ScannerSpec[];
  lots: LotSpec[];
  gates: GateSpec[];
  cameras: CameraSpec[];
  rates: CompoundRates;
}

const CATEGORIES: readonly WasteCategory[] = ['kitchen', 'recyclable', 'hazardous', 'other'];
const pad = (n: number, w: number) => String(n).padStart(w, '0');

export interface CompoundOptions {
  seed?: number;
  gatewayId?: string;
  compound?: string;
  bins?: number;
  spaces?: number;
  lots?: number;
  gates?: number;
  scanners?: number;
  cameras?: number;
}

/** Builds a compound; with no options it is the reference compound of DESIGN.md. */
export function compoundProfile(opts: CompoundOptions = {}): CompoundProfile {
  const seed = opts.seed ?? 1;
  const r = rng(seed);
  const gatewayId = opts.gatewayId ?? 'gw-ref';
  const compound = opts.compound ?? 'ref-compound';
  const grids = Array.from({ length: 6 }, (_, i) => `${compound}-g${i + 1}`);
  const nBins = opts.bins ?? 200;
  const nSpaces = opts.spaces ?? 300;
  const nLots = opts.lots ?? 3;
  const bins: BinSpec[] = Array.from({ length: nBins }, (_, i) => ({
    id: `BIN-${pad(i + 1, 5)}`,
    category: CATEGORIES[i % CATEGORIES.length] as WasteCategory,
    grid: pick(r, grids),
    everyH: i % 4 === 0 ? 24 : 12,
  }));
  const lots: LotSpec[] = Array.from({ length: nLots }, (_, l) => ({ id: `lot-${String.fromCharCode(65 + l)}`, grid: grids[l % grids.length] as string, spaces: [] }));
  for (let i = 0; i < nSpaces; i++) {
    const lot = lots[i % nLots] as LotSpec;
    const n = lot.spaces.length + 1;
    const roll = r();
    const type: SpaceSpec['type'] = roll < 0.05 ? 'no_parking' : roll < 0.2 ? 'visitor' : roll < 0.3 ? 'shared' : 'normal';
    lot.spaces.push({ id: `${lot.id}-${pad(n, 3)}`, sensor: `ps-${lot.id.slice(4)}${pad(n, 3)}`, type });
  }
  const gates: GateSpec[] = Array.from({ length: opts.gates ?? 4 }, (_, g) => ({
    id: `gate-${g + 1}`,
    grid: grids[g % grids.length] as string,
    readers: [
      { id: `rd-${g + 1}in`, dir: 'in' },
      { id: `rd-${g + 1}out`, dir: 'out' },
    ],
  }));
  const transports: ScannerSpec['transport'][] = ['tcp', 'mqtt', 'serial', 'tcp'];
  const scanners: ScannerSpec[] = Array.from({ length: opts.scanners ?? 4 }, (_, s) => ({
    id: `sc-${s + 1}`,
    transport: transports[s % transports.length] as ScannerSpec['transport'],
  }));
  const cameras: CameraSpec[] = Array.from({ length: opts.cameras ?? 1 }, (_, c) => ({
    id: `cam-${c + 1}`,
    grid: grids[0] as string,
    fps: 2,
    width: 1280,
    height: 720,
  }));
  return {
    name: 'reference',
    seed,
    gatewayId,
    compound,
    grids,
    bins,
    scanners,
    lots,
    gates,
    cameras,
    rates: { parkingPeriodS: 30, parkingChangeP: 0.05, passEveryS: 5, scansPerHour: 2 * nBins / 24 },
  };
}

/** The reference compound: 1 gateway, 200 coded bins, 4 scanners, 300 parking sensors, 4 gates, 1 camera. */
export const referenceCompound = (seed = 1): CompoundProfile => compoundProfile({ seed });

/** A district: ≥ 100 reference-sized compounds, one gateway each. */
export function districtProfile(opts: { gateways?: number; seed?: number } = {}): CompoundProfile[] {
  const n = opts.gateways ?? 100;
  const seed = opts.seed ?? 1;
  return Array.from({ length: n }, (_, i) => ({
    ...compoundProfile({ seed: seed * 1000 + i, gatewayId: `gw-${pad(i + 1, 3)}`, compound: `compound-${pad(i + 1, 3)}` }),
    name: 'district',
  }));
}

/** Records per second the compound produces in steady state (parking + gates + scans). */
export function liveRecordRate(p: CompoundProfile): number {
  const sensors = p.lots.reduce((n, l) => n + l.spaces.length, 0);
  const parking = (sensors / p.rates.parkingPeriodS) * (1 + p.rates.parkingChangeP);
  const gates = p.gates.length / p.rates.passEveryS;
  const scans = p.rates.scansPerHour / 3600;
  return parking + gates + scans;
}

/** Every device of the compound with its kind, as the cloud registry and the gateway config list them. */
export function deviceInventory(p: CompoundProfile): { id: string; kind: 'scanner' | 'parking' | 'reader' | 'camera' }[] {
  return [
    ...p.scanners.map((s) => ({ id: s.id, kind: 'scanner' as const })),
    ...p.lots.flatMap((l) => l.spaces.map((s) => ({ id: s.sensor, kind: 'parking' as const }))),
    ...p.gates.flatMap((g) => g.readers.map((r) => ({ id: r.id, kind: 'reader' as const }))),
    ...p.cameras.map((c) => ({ id: c.id, kind: 'camera' as const })),
  ];
}
