/**
 * What the simulated devices were told was accepted (a PUBACK, or an answer line). The fault harness compares
 * this with what a query finds in InfluxDB: every accepted reading must be there exactly once.
 *
 * A request that was sent but never answered (the gateway died with it, and asking again did not get an answer
 * either before the device gave up) is `unanswered`: the gateway may have stored it or not, so it may be in
 * InfluxDB at most once without being accepted. `retried` counts requests that were answered only after the
 * device asked again.
 */
export interface Accepted {
  kind: 'park' | 'scan' | 'gate';
  device: string;
  /** Wall-clock ms at which the acceptance arrived. */
  at: number;
  detail?: string;
}

export class AcceptanceLog {
  readonly items: Accepted[] = [];
  readonly refused: Accepted[] = [];
  readonly unanswered: Accepted[] = [];
  readonly retried: Accepted[] = [];
  add(a: Accepted): void {
    this.items.push(a);
  }
  refuse(a: Accepted): void {
    this.refused.push(a);
  }
  noAnswer(a: Accepted): void {
    this.unanswered.push(a);
  }
  askedAgain(a: Accepted): void {
    this.retried.push(a);
  }
  count(kind?: Accepted['kind']): number {
    return kind ? this.items.filter((a) => a.kind === kind).length : this.items.length;
  }
  countUnanswered(kind: Accepted['kind']): number {
    return this.unanswered.filter((a) => a.kind === kind).length;
  }
  countRetried(kind: Accepted['kind']): number {
    return this.retried.filter((a) => a.kind === kind).length;
  }
}
