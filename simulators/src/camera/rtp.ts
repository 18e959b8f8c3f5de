/**
 * H.264 over RTP (RFC 6184) in packetization-mode 1: a NAL unit that fits goes as one packet (§5.6), a
 * larger one is split into FU-A fragments (§5.8). The marker bit is set on the last packet of an access
 * unit (§5.1). Payloads are cut once per frame; each reader gets its own RTP header (sequence, SSRC).
 */

export interface RtpPayload {
  payload: Buffer;
  marker: boolean;
}

export const H264_PAYLOAD_TYPE = 96;

export function fragmentAccessUnit(nals: readonly Buffer[], mtu = 1400): RtpPayload[] {
  const out: RtpPayload[] = [];
  nals.forEach((nal, i) => {
    const last = i === nals.length - 1;
    if (nal.length <= mtu) {
      out.push({ payload: nal, marker: last });
      return;
    }
    const header = nal[0] as number;
    const indicator = (header & 0xe0) | 28; // F and NRI from the NAL, type 28 = FU-A
    const type = header & 0x1f;
    const chunk = mtu - 2;
    for (let off = 1; off < nal.length; off += chunk) {
      const end = Math.min(nal.length, off + chunk);
      const start = off === 1;
      const stop = end === nal.length;
      const fu = Buffer.allocUnsafe(2 + end - off);
      fu[0] = indicator;
      fu[1] = (start ? 0x80 : 0) | (stop ? 0x40 : 0) | type;
      nal.copy(fu, 2, off, end);
      out.push({ payload: fu, marker: last && stop });
    }
  });
  return out;
}

/** RFC 3550 §5.1 fixed header: V=2, no padding/extension/CSRC. */
export function rtpHeader(seq: number, timestamp: number, ssrc: number, marker: boolean): Buffer {
  const h = Buffer.allocUnsafe(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | H264_PAYLOAD_TYPE;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(timestamp >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return h;
}

/** RFC 2326 §10.12: an RTP packet inside the RTSP TCP connection: '$', channel, u16 length, packet. */
export function interleaved(channel: number, header: Buffer, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(4 + header.length + payload.length);
  frame[0] = 0x24;
  frame[1] = channel;
  frame.writeUInt16BE(header.length + payload.length, 2);
  header.copy(frame, 4);
  payload.copy(frame, 4 + header.length);
  return frame;
}

/** profile-level-id for the SDP: profile_idc, constraint flags, level_idc from the SPS (RFC 6184 §8.1). */
export function profileLevelId(sps: Buffer): string {
  return sps.subarray(1, 4).toString('hex');
}
