import { type ImageHeader, Priority } from '@hutong/protocols';
import type { Outbox } from '../outbox/contract.js';

/**
 * Puts camera snapshot frames (complete `up/image` frames) into the outbox, critical class: a litter event's crop
 * travels with the same durability and end-to-end ack as records, one frame per message.
 */
export class OutboxImageSink {
  private appended = 0;
  constructor(private readonly outbox: Outbox) {}

  async append(frame: Uint8Array, _header: ImageHeader): Promise<void> {
    await this.outbox.append([{ cls: Priority.critical, type: 'img', data: frame }]);
    this.appended++;
  }

  counters(): Record<string, number> {
    return { images_appended: this.appended };
  }
}
