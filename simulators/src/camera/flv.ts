/**
 * Reads the FLV stream ffmpeg writes on stdout. FLV is used between the encoder and the RTSP server only
 * because every tag carries its length: a frame is complete the moment its tag is, whereas a raw Annex B
 * stream only ends a frame when the next one starts (half a second late at 2 fps).
 * Layout (FLV 10.1 spec, E.4): 9-byte header, then [PreviousTagSize u32][tag] pairs; a video tag with
 * CodecID 7 carries an AVCDecoderConfigurationRecord (AVCPacketType 0) or length-prefixed NAL units (1).
 */

export interface AvcConfig {
  sps: Buffer;
  pps: Buffer;
  lengthSize: number;
}

export interface AvcFrame {
  nals: Buffer[];
  key: boolean;
  /** Tag timestamp, ms since the encoder started. */
  ms: number;
}

export class FlvAvcReader {
  private buf: Buffer = Buffer.alloc(0);
  private headerDone = false;
  private config: AvcConfig | undefined;

  constructor(
    private readonly onConfig: (c: AvcConfig) => void,
    private readonly onFrame: (f: AvcFrame) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.headerDone) {
      if (this.buf.length < 13) return;
      if (this.buf.toString('latin1', 0, 3) !== 'FLV') throw new Error('encoder output is not FLV');
      const headerSize = this.buf.readUInt32BE(5);
      if (this.buf.length < headerSize + 4) return;
      this.buf = this.buf.subarray(headerSize + 4);
      this.headerDone = true;
    }
    while (this.buf.length >= 11) {
      const type = this.buf[0] as number;
      const size = this.buf.readUIntBE(1, 3);
      const total = 11 + size + 4;
      if (this.buf.length < total) return;
      const ms = this.buf.readUIntBE(4, 3) | ((this.buf[7] as number) << 24);
      const data = this.buf.subarray(11, 11 + size);
      this.buf = this.buf.subarray(total);
      if (type === 9 && size >= 5) this.video(data, ms);
    }
  }

  private video(data: Buffer, ms: number): void {
    const frameType = (data[0] as number) >> 4;
    const codec = (data[0] as number) & 0x0f;
    if (codec !== 7) return;
    const packetType = data[1] as number;
    const body = data.subarray(5);
    if (packetType === 0) {
      this.config = parseAvcC(body);
      this.onConfig(this.config);
      return;
    }
    if (packetType !== 1 || !this.config) return;
    const nals: Buffer[] = [];
    const ls = this.config.lengthSize;
    let off = 0;
    while (off + ls <= body.length) {
      const len = body.readUIntBE(off, ls);
      off += ls;
      if (off + len > body.length) break;
      nals.push(Buffer.from(body.subarray(off, off + len)));
      off += len;
    }
    const key = frameType === 1 || nals.some((n) => ((n[0] as number) & 0x1f) === 5);
    if (nals.length > 0) this.onFrame({ nals, key, ms });
  }
}

/** ISO/IEC 14496-15 §5.2.4.1: AVCDecoderConfigurationRecord; takes the first SPS and PPS. */
export function parseAvcC(b: Buffer): AvcConfig {
  if (b.length < 7 || b[0] !== 1) throw new Error('bad AVCDecoderConfigurationRecord');
  const lengthSize = ((b[4] as number) & 0x03) + 1;
  let off = 5;
  const numSps = (b[off++] as number) & 0x1f;
  let sps: Buffer | undefined;
  for (let i = 0; i < numSps; i++) {
    const len = b.readUInt16BE(off);
    off += 2;
    sps ??= Buffer.from(b.subarray(off, off + len));
    off += len;
  }
  const numPps = b[off++] as number;
  let pps: Buffer | undefined;
  for (let i = 0; i < numPps; i++) {
    const len = b.readUInt16BE(off);
    off += 2;
    pps ??= Buffer.from(b.subarray(off, off + len));
    off += len;
  }
  if (!sps || !pps) throw new Error('AVCDecoderConfigurationRecord without SPS/PPS');
  return { sps, pps, lengthSize };
}
