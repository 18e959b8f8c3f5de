import { readFile } from 'node:fs/promises';

/**
 * Class labels for a model: from a labels file (one per line) or from the model's `names` metadata, which
 * exporters write either as JSON (`{"0":"bottle",...}`) or as a Python dict (`{0: 'bottle', 1: 'can'}`,
 * what Ultralytics writes), sometimes as a list.
 */
export function parseNames(text: string): string[] | undefined {
  const s = text.trim();
  try {
    const v: unknown = JSON.parse(s);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    if (v && typeof v === 'object') return fromIndexed(Object.entries(v as Record<string, unknown>));
  } catch {
    // not JSON: try the Python literal forms below
  }
  if (s.startsWith('{')) {
    const entries: [string, unknown][] = [];
    const re = /(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
    for (let m = re.exec(s); m; m = re.exec(s)) entries.push([m[1] as string, m[2] ?? m[3]]);
    return entries.length > 0 ? fromIndexed(entries) : undefined;
  }
  if (s.startsWith('[')) {
    const out: string[] = [];
    const re = /'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g;
    for (let m = re.exec(s); m; m = re.exec(s)) out.push((m[1] ?? m[2]) as string);
    return out.length > 0 ? out : undefined;
  }
  return undefined;
}

/** Index → name pairs into a dense list; a gap or a non-string name makes the whole thing invalid. */
function fromIndexed(entries: [string, unknown][]): string[] | undefined {
  const out: string[] = [];
  for (const [k, v] of entries) {
    const i = Number(k);
    if (!Number.isInteger(i) || i < 0 || i > 10_000 || typeof v !== 'string') return undefined;
    out[i] = v;
  }
  for (let i = 0; i < out.length; i++) if (out[i] === undefined) return undefined;
  return out.length > 0 ? out : undefined;
}

export async function readLabelsFile(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
}

/**
 * The model's metadata_props (ModelProto field 14, key/value pairs) read straight from the protobuf bytes: the
 * runtime does not expose them, and only the top level needs walking (the graph and weights are skipped).
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const r = new Reader(bytes, 0, bytes.length);
  while (r.pos < r.end) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 14 && wire === 2) {
      const len = r.varint();
      const sub = new Reader(bytes, r.pos, r.pos + len);
      r.pos += len;
      let key = '';
      let value = '';
      while (sub.pos < sub.end) {
        const t = sub.varint();
        if (t % 8 !== 2) {
          sub.skip(t % 8);
          continue;
        }
        const s = sub.string();
        if (Math.floor(t / 8) === 1) key = s;
        else if (Math.floor(t / 8) === 2) value = s;
      }
      if (key) out[key] = value;
    } else {
      r.skip(wire);
    }
  }
  return out;
}

class Reader {
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError('truncated protobuf varint');
      const b = this.buf[this.pos++] as number;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    throw new RangeError('bad protobuf varint');
  }

  string(): string {
    const len = this.varint();
    if (this.pos + len > this.end) throw new RangeError('truncated protobuf string');
    const s = new TextDecoder().decode(this.buf.subarray(this.pos, this.pos + len));
    this.pos += len;
    return s;
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) {
      const len = this.varint(); // read before adding: `pos += varint()` would use the old pos
      this.pos += len;
    }
    else if (wire === 5) this.pos += 4;
    else throw new RangeError(`unsupported protobuf wire type ${wire}`);
    if (this.pos > this.end) throw new RangeError('truncated protobuf field');
  }
}
