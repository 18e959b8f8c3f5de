import { assertPublishable, type ErrorCode, gatewayMayPublish, gatewayMaySubscribe, Limits, ROOT, statusTopic } from '@hutong/protocols';

/**
 * The broker-independent access policy, shared by the aedes hooks and mirrored by the Mosquitto ACL file.
 * A principal is either a gateway (MQTT username = gateway id) or a cloud service account.
 */
export type Principal = { kind: 'gateway'; gw: string } | { kind: 'service'; name: string };

export type Decision = { ok: true } | { ok: false; code: ErrorCode; why: string };
const OK: Decision = { ok: true };

export const SHARE_PREFIX = '$share/';

/** [MQTT-1.5.3-1], [MQTT-1.5.3-2], [MQTT-3.1.2-22]: CONNECTs a 3.1.1 server must close. */
export function checkConnect(clientId: string, username: string | undefined, password: Buffer | undefined): Decision {
  // The packet decoder maps ill-formed UTF-8 to U+FFFD, the only trace left of it.
  if (/[\u0000\uFFFD]/.test(clientId)) return { ok: false, code: 'E_BAD_CONNECT', why: 'client id is not valid UTF-8 or holds NUL' };
  if (username !== undefined && /[\u0000\uFFFD]/.test(username)) {
    return { ok: false, code: 'E_BAD_CONNECT', why: 'username is not valid UTF-8 or holds NUL' };
  }
  if (password !== undefined && username === undefined) {
    return { ok: false, code: 'E_BAD_CONNECT', why: 'password without username' };
  }
  return OK;
}

export function checkPublish(p: Principal, topic: string, payloadBytes: number, maxPacket = Limits.maxPacket): Decision {
  if (payloadBytes > maxPacket) return { ok: false, code: 'E_OVERSIZED', why: `payload ${payloadBytes} B > ${maxPacket} B` };
  if (p.kind === 'gateway') {
    return gatewayMayPublish(p.gw, topic) ? OK : { ok: false, code: 'E_FOREIGN_PREFIX', why: `gateway ${p.gw} published to ${topic}` };
  }
  try {
    assertPublishable(topic);
  } catch {
    return { ok: false, code: 'E_TOPIC', why: `not publishable: ${topic}` };
  }
  return topic.startsWith(`${ROOT}/`) ? OK : { ok: false, code: 'E_TOPIC', why: `service publish outside ${ROOT}/: ${topic}` };
}

/** A gateway's will may only be its own status topic (its retained "offline"). */
export function checkWill(p: Principal, topic: string | undefined): Decision {
  if (topic === undefined || p.kind !== 'gateway' || topic === statusTopic(p.gw)) return OK;
  return { ok: false, code: 'E_FOREIGN_PREFIX', why: `gateway ${p.gw} set a will on ${topic}` };
}

export function checkSubscribe(p: Principal, filter: string, sharedSupported: boolean): Decision {
  if (filter.startsWith(SHARE_PREFIX) && !sharedSupported) {
    return {
      ok: false,
      code: 'E_TOPIC',
      why: `shared subscription ${filter} refused: the embedded broker (aedes 1.2) would silently deliver nothing to it; run ingest workers against Mosquitto (mqtt.broker = "mosquitto") or subscribe without $share`,
    };
  }
  if (p.kind === 'gateway') {
    return gatewayMaySubscribe(p.gw, filter) ? OK : { ok: false, code: 'E_FOREIGN_PREFIX', why: `gateway ${p.gw} subscribed to ${filter}` };
  }
  const plain = filter.startsWith(SHARE_PREFIX) ? filter.split('/').slice(2).join('/') : filter;
  return plain.startsWith(`${ROOT}/`) ? OK : { ok: false, code: 'E_TOPIC', why: `service subscription outside ${ROOT}/: ${filter}` };
}
