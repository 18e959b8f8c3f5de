/**
 * Reads MQTT fixed headers as bytes pass by and reports a packet whose declared length exceeds the limit, before
 * the broker's parser buffers it: MQTT allows 256 MiB packets, and a parser that waits for the whole packet would
 * hold that much memory per connection. Only the headers are decoded; bodies are skipped by count.
 * [MQTT-2.2.3] Remaining Length: up to four bytes, 7 bits each, high bit = continuation.
 */
export class PacketSizeGuard {
  private skip = 0;
  private state: 'type' | 'length' = 'type';
  private len = 0;
  private mul = 1;
  private lenBytes = 0;

  constructor(private readonly maxRemaining: number) {}

  /** Feeds bytes; returns the offending declared length, or undefined while everything is within bounds. */
  feed(chunk: Uint8Array): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const b = chunk[i++] as number;
      if (this.state === 'type') {
        this.state = 'length';
        this.len = 0;
        this.mul = 1;
        this.lenBytes = 0;
        continue;
      }
      this.len += (b & 0x7f) * this.mul;
      this.mul *= 128;
      this.lenBytes++;
      if (this.len > this.maxRemaining) return this.len;
      if ((b & 0x80) === 0 || this.lenBytes === 4) {
        this.skip = this.len;
        this.state = 'type';
      }
    }
    return undefined;
  }
}
