/**
 * One catalogue of reason codes, shared by edge, cloud and simulators. Every refusal, rejection and
 * startup failure carries one of these, so an installer can search a log line for it (docs/errors.md).
 */
export const ErrorCodes = {
  // wire / message level
  E_MALFORMED: 'payload is not valid JSON or not a valid frame',
  E_OVERSIZED: 'payload larger than the limit for its topic',
  E_SCHEMA: 'message does not match its schema',
  E_VERSION: 'message version is not accepted (only the current and the previous one are)',
  E_TOPIC: 'topic is not a known Hutong topic',
  E_FOREIGN_PREFIX: 'a gateway published outside its own topic prefix',
  E_GATEWAY_MISMATCH: 'the gateway id inside the message differs from the authenticated gateway',
  E_UNKNOWN_DEVICE: 'device is not registered for this gateway',
  E_UNKNOWN_GATEWAY: 'gateway is not registered',
  E_DUPLICATE_BATCH: 'batch id was already stored (replay), acknowledged again without a second write',
  // auth
  E_AUTH: 'bad credentials',
  E_REVOKED_CREDENTIAL: 'the gateway credential was revoked',
  E_BAD_CONNECT: 'CONNECT packet refused (invalid client id, username or password form)',
  E_ENROLMENT_CODE: 'enrolment code unknown, used or expired',
  E_FORBIDDEN: 'not allowed for this role or grid',
  E_RATE_LIMITED: 'too many attempts from this address: wait and retry',
  E_NOT_FOUND: 'the named object (pass, issuer key, gateway, task) does not exist',
  E_INTERNAL: 'an unexpected failure inside the service (logged with its stack); the request may be retried',
  // storage / processes
  E_INFLUX_WRITE: 'InfluxDB write failed',
  E_BINARY_MISSING: 'a required program is not installed',
  E_CHILD_EXIT: 'a child process exited unexpectedly',
  E_CONFIG: 'configuration file is invalid',
  E_OUTBOX_FULL: 'outbox is at its bound: lowest class dropped',
  E_OUTBOX_CORRUPT: 'outbox segment has a torn or corrupt tail: truncated to the last good record',
  E_OUTBOX_IO: 'outbox could not write or sync its segment (disk full, I/O error): the append was refused',
  E_CLOCK_UNSYNCED: 'gateway clock offset to the cloud is not known yet: readings are held',
  // devices
  E_UNKNOWN_BIN: 'bin code not in the registry',
  E_DUPLICATE_SCAN: 'the same bin was already recorded within the duplicate window',
  E_DEVICE_LINE: 'device line could not be parsed',
  E_CAMERA: 'camera stream failed',
  E_MODEL: 'detector model could not be loaded or does not fit its contract',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

/** An Error that carries a catalogue code; `detail` is free text for the log. */
export class HutongError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ? `${code}: ${detail}` : `${code}: ${ErrorCodes[code]}`, options);
    this.code = code;
    this.name = 'HutongError';
  }
}

export function isHutongError(e: unknown): e is HutongError {
  return e instanceof HutongError;
}
