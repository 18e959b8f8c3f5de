/**
 * What the simulated devices were told was accepted (a PUBACK, or an answer line). The fault harness compares
 * this with what a query finds in InfluxDB: every accepted reading must be there exactly once.
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
  add(a: Accepted): void {
    this.items.push(a);
  }
  refuse(a: Accepted): void {
    this.refused.push(a);
  }
  count(kind?: Accepted['kind']): number {
    return kind ? this.items.filter((a) => a.kind === kind).length : this.items.length;
  }
}
