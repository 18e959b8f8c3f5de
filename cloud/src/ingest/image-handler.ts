import { ACCEPTED_VERSIONS, type AckEntry, decodeImage, type ErrorCode, imageHeader, isValidId } from '@hutong/protocols';
import { ImageStore } from './images.js';

export interface ImageDeps {
  images: ImageStore;
  reject(code: ErrorCode, ctx: Record<string, unknown>, detail: string): void;
  ack(gw: string, entry: AckEntry): void;
  bump(name: string): void;
}

/**
 * `up/image` (protocols/src/image.ts): frame → header → version → gateway → sha256 → JPEG → content-addressed
 * file → ack. The ack follows the fsync, as a batch's ack follows InfluxDB's confirmation. A frame refused
 * for good is acknowledged with stored 0 when its id is readable, so the gateway drops it.
 */
export async function handleImage(gw: string, topic: string, payload: Buffer, deps: ImageDeps): Promise<void> {
  const frame = decodeImage(payload);
  if (!frame.ok) {
    deps.reject('E_MALFORMED', { gw, topic, reason: frame.reason }, 'image frame refused');
    return;
  }
  const h = frame.header as { id?: unknown };
  const refuse = (code: ErrorCode, detail: string) => {
    deps.reject(code, { gw, topic, image: h?.id, detail }, 'image refused');
    if (isValidId(h?.id)) deps.ack(gw, { id: h.id, stored: 0, rejected: 1, codes: { [code]: 1 } });
  };
  if (!imageHeader.check(frame.header)) {
    refuse('E_SCHEMA', JSON.stringify(imageHeader.issues(frame.header, 3)));
    return;
  }
  const header = frame.header;
  if (!ACCEPTED_VERSIONS.includes(header.v)) {
    refuse('E_VERSION', `version ${header.v}`);
    return;
  }
  if (header.gw !== gw) {
    refuse('E_GATEWAY_MISMATCH', `header gw ${header.gw}`);
    return;
  }
  const body = frame.body;
  if (ImageStore.sha256(body) !== header.sha256) {
    refuse('E_MALFORMED', 'sha256 does not match the body');
    return;
  }
  // JPEG SOI marker FF D8 FF: the only type the header may name.
  if (body.length < 3 || body[0] !== 0xff || body[1] !== 0xd8 || body[2] !== 0xff) {
    refuse('E_MALFORMED', 'body is not a JPEG');
    return;
  }
  const fresh = await deps.images.put(header.sha256, body);
  deps.bump(fresh ? 'images_stored' : 'images_duplicate');
  deps.ack(gw, { id: header.id, stored: 1, rejected: 0 });
}
