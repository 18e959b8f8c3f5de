import type { HutongRecord } from '@hutong/protocols';

/**
 * InfluxDB line protocol, written byte by byte into one growing Buffer that is reused between writes.
 * Building template strings per point and converting them afterwards costs a large share of the ingest CPU
 * (FACTS.md: ≈ 0.43× raw against ≈ 0.6–0.69× for byte-level writing), so nothing here allocates per point
 * beyond number formatting.
 *
 * Escaping (https://docs.influxdata.com/influxdb/v1.6/write_protocols/line_protocol_reference/):
 * - measurement: comma and space
 * - tag keys, tag values, field keys: comma, equals sign and space
 * - string field values: double quote and backslash, inside double quotes
 * Ids already match ID_PATTERN (no escapable characters), so the common path is a plain byte copy.
 *
 * The mapping of every record kind to its point is documented in docs/influx-schema.md; keep them in step.
 */

/** Which retention policy a record kind is written to (docs/influx-schema.md). */
export type RetentionName = 'telemetry' | 'events';
export const RP_OF_KIND: Record<HutongRecord['k'], RetentionName> = {
  park: 'telemetry',
  lot: 'telemetry',
  health: 'telemetry',
  gwstats: 'telemetry',
  scan: 'events',
  gate: 'events',
  litter: 'events',
  state: 'events',
};

const COMMA = 0x2c;
const SPACE = 0x20;
const EQ = 0x3d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NL = 0x0a;
const LETTER_I = 0x69;

export class LineBuffer {
  buf: Buffer;
  len = 0;
  /** Number of complete points in the buffer. */
  points = 0;
  private fieldCount = 0;

  constructor(initialBytes = 1 << 20) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  reset(): void {
    this.len = 0;
    this.points = 0;
  }

  /** The bytes written so far (a view, valid until the next write or reset). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  toString(): string {
    return this.buf.toString('utf8', 0, this.len);
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  /** ASCII without escapes (keys and literals this module controls). */
  private raw(s: string): void {
    const n = s.length;
    this.ensure(n);
    const b = this.buf;
    let o = this.len;
    for (let i = 0; i < n; i++) b[o++] = s.charCodeAt(i);
    this.len = o;
  }

  private byte(c: number): void {
    this.ensure(1);
    this.buf[this.len++] = c;
  }

  /**
   * Escaped identifier-like text (measurement, tag key or value, field key). `eqToo` adds '=' to the
   * escaped set (everything but the measurement). Non-ASCII text falls back to UTF-8 encoding.
   */
  private ident(s: string, eqToo: boolean): void {
    const n = s.length;
    this.ensure(n * 2);
    const b = this.buf;
    let o = this.len;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.len = o;
        this.identSlow(s.slice(i), eqToo);
        return;
      }
      if (c === COMMA || c === SPACE || (eqToo && c === EQ)) b[o++] = BACKSLASH;
      else if (c === NL) {
        // A newline would end the line and line protocol has no escape for it in keys or tags: spell it out.
        b[o++] = BACKSLASH;
        b[o++] = 0x6e;
        continue;
      }
      b[o++] = c;
    }
    this.len = o;
  }

  private identSlow(s: string, eqToo: boolean): void {
    const escaped = s.replace(eqToo ? /[, =]/g : /[, ]/g, (m) => `\\${m}`).replace(/\n/g, '\\n');
    const bytes = Buffer.byteLength(escaped);
    this.ensure(bytes);
    this.len += this.buf.write(escaped, this.len, 'utf8');
  }

  /** Starts a point: `measurement,tag=value...` (tags must be added in key order by the caller). */
  measurement(name: string): void {
    this.ident(name, false);
    this.fieldCount = 0;
  }

  tag(key: string, value: string): void {
    // The hottest call of the encoder: one bounds check, then a plain copy unless a character needs care.
    const kl = key.length;
    const vl = value.length;
    this.ensure(2 + kl + vl * 2);
    const b = this.buf;
    let o = this.len;
    b[o++] = COMMA;
    for (let i = 0; i < kl; i++) b[o++] = key.charCodeAt(i);
    b[o++] = EQ;
    for (let i = 0; i < vl; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80 || c === NL) {
        this.len = o;
        this.identSlow(value.slice(i), true);
        return;
      }
      if (c === COMMA || c === SPACE || c === EQ) b[o++] = BACKSLASH;
      b[o++] = c;
    }
    this.len = o;
  }

  /** Adds the tag only when the value is present and non-empty (InfluxDB refuses empty tag values). */
  optTag(key: string, value: string | undefined): void {
    if (value !== undefined && value.length > 0) this.tag(key, value);
  }

  private fieldKey(key: string): void {
    this.byte(this.fieldCount === 0 ? SPACE : COMMA);
    this.fieldCount++;
    this.ident(key, true);
    this.byte(EQ);
  }

  float(key: string, v: number): void {
    this.fieldKey(key);
    // JSON cannot carry NaN/Infinity, so String(v) is a valid Go float literal (incl. exponent form).
    this.raw(String(v));
  }

  optFloat(key: string, v: number | undefined): void {
    if (v !== undefined) this.float(key, v);
  }

  int(key: string, v: number): void {
    this.fieldKey(key);
    this.raw(String(Math.trunc(v)));
    this.byte(LETTER_I);
  }

  optInt(key: string, v: number | undefined): void {
    if (v !== undefined) this.int(key, v);
  }

  bool(key: string, v: boolean): void {
    this.fieldKey(key);
    this.byte(v ? 0x74 : 0x66); // t / f
  }

  str(key: string, v: string): void {
    this.fieldKey(key);
    this.byte(QUOTE);
    const n = v.length;
    this.ensure(n * 2 + 1);
    const b = this.buf;
    let o = this.len;
    for (let i = 0; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) {
        this.len = o;
        const escaped = v.slice(i).replace(/["\\]/g, (m) => `\\${m}`);
        this.ensure(Buffer.byteLength(escaped) + 1);
        this.len += this.buf.write(escaped, this.len, 'utf8');
        this.byte(QUOTE);
        return;
      }
      if (c === QUOTE || c === BACKSLASH) b[o++] = BACKSLASH;
      b[o++] = c;
    }
    b[o++] = QUOTE;
    this.len = o;
  }

  optStr(key: string, v: string | undefined): void {
    if (v !== undefined) this.str(key, v);
  }

  /** Ends the point with its timestamp (ns digits, written verbatim). */
  end(ts: string): void {
    this.byte(SPACE);
    this.raw(ts);
    this.byte(NL);
    this.points++;
  }

  /** Appends one record of gateway `gw` as one point (docs/influx-schema.md). */
  record(gw: string, r: HutongRecord): void {
    switch (r.k) {
      case 'park':
        this.measurement('park');
        this.tag('d', r.d);
        this.tag('gw', gw);
        this.tag('lot', r.lot);
        this.tag('space', r.space);
        this.bool('occ', r.occ);
        this.optFloat('bat', r.bat);
        this.optFloat('rssi', r.rssi);
        this.optInt('fc', r.fc);
        break;
      case 'lot':
        this.measurement('lot');
        this.tag('d', r.d);
        this.tag('gw', gw);
        this.tag('lot', r.lot);
        this.int('free', r.free);
        this.int('occupied', r.occupied);
        this.int('unknown', r.unknown);
        break;
      case 'scan':
        this.measurement('scan');
        this.tag('bin', r.bin);
        this.tag('category', r.cat);
        this.tag('d', r.d);
        this.tag('gw', gw);
        this.int('n', 1);
        this.optStr('crew', r.crew);
        this.optFloat('kg', r.kg);
        this.optInt('grade', r.grade);
        break;
      case 'gate':
        this.measurement('gate');
        this.tag('d', r.d);
        this.tag('dir', r.dir);
        this.tag('gate', r.gate);
        this.tag('gw', gw);
        this.tag('reason', r.reason);
        this.tag('res', r.res);
        this.float('ms', r.ms);
        this.optStr('holder', r.holder);
        break;
      case 'litter':
        this.measurement('litter');
        this.tag('camera', r.d);
        this.tag('gw', gw);
        this.tag('label', r.label);
        this.tag('zone', r.zone);
        this.str('ev', r.ev);
        this.float('conf', r.conf);
        this.float('x', r.box[0]);
        this.float('y', r.box[1]);
        this.float('w', r.box[2]);
        this.float('h', r.box[3]);
        this.optStr('img', r.img);
        break;
      case 'health':
        this.measurement('health');
        this.tag('d', r.d);
        this.tag('gw', gw);
        this.tag('kind', r.kind);
        this.bool('online', r.online);
        this.optFloat('bat', r.bat);
        this.optFloat('rssi', r.rssi);
        this.optFloat('fps', r.fps);
        this.optFloat('inferMs', r.inferMs);
        break;
      case 'gwstats':
        this.measurement('gwstats');
        this.tag('d', r.d);
        this.tag('gw', gw);
        this.float('cpu', r.cpu);
        this.float('rssMb', r.rssMb);
        this.float('diskFreeMb', r.diskFreeMb);
        this.int('obDepth', r.obDepth);
        this.float('obOldestS', r.obOldestS);
        this.int('obDropped', r.obDropped);
        this.bool('uplink', r.uplink);
        this.optFloat('clockOffsetMs', r.clockOffsetMs);
        if (r.counters) {
          for (const key in r.counters) {
            const v = r.counters[key];
            if (v !== undefined) this.float(`c.${key}`, v);
          }
        }
        break;
      case 'state':
        this.measurement('state');
        this.tag('d', r.d);
        this.optTag('grid', r.grid);
        this.tag('gw', gw);
        this.tag('subject', r.subject);
        this.tag('type', r.type);
        this.int('n', 1);
        this.optStr('detail', r.detail);
        break;
    }
    this.end(r.ts);
  }
}

/** Tag keys a point may carry: every one of them takes values from a bounded set (docs/influx-schema.md). */
export const BOUNDED_TAG_KEYS: ReadonlySet<string> = new Set([
  'gw',
  'd',
  'lot',
  'space',
  'bin',
  'category',
  'gate',
  'dir',
  'res',
  'reason',
  'zone',
  'label',
  'camera',
  'kind',
  'type',
  'subject',
  'grid',
]);
