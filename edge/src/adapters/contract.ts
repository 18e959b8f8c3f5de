/**
 * One adapter per device transport (local MQTT, TCP lines, serial lines, RTSP). Constructors are inert; all
 * I/O starts in `start()` and ends in `stop()`. An adapter never throws out of its I/O callbacks: bad input is
 * answered, counted and logged, and the adapter keeps serving.
 */
export interface Adapter {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Monotonic counters for gateway stats and /metrics, e.g. { lines: 10, rejected_malformed: 1 }. */
  counters(): Record<string, number>;
}

/**
 * A device-facing service: takes one request from one device and returns the answer to send back. It appends
 * its records to the RecordSink before resolving. Adapters translate wire formats to and from these calls.
 */
export interface DeviceService<Req, Ans> {
  handle(deviceId: string, req: Req): Promise<Ans>;
}
