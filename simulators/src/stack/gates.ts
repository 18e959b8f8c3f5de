import type { AcceptanceLog } from '../devices/accepted.js';
import { LineClient } from '../devices/lines.js';
import type { CompoundProfile, GateSpec } from '../profiles/compound.js';
import { Wallet } from '../wallet/index.js';
import type { CloudApi } from './api.js';

/**
 * Residents walking through the gates: each holds a wallet with a pass issued by the cloud, and shows its current
 * code at a gate reader (TCP line). A code changes every 30 s and is single-shot at a compound, so the fleet
 * rotates through enough residents that nobody shows the same code twice.
 */
export interface GateFleetOptions {
  profile: CompoundProfile;
  api: CloudApi;
  tcpPorts: Record<string, number>;
  log: AcceptanceLog;
  residents?: number;
}

export class GateReaderFleet {
  private readonly wallets: { w: Wallet; inside: boolean }[] = [];
  private readonly readers = new Map<string, LineClient>();
  private timer: NodeJS.Timeout | undefined;
  private next = 0;
  private gateTurn = 0;
  readonly answers = new Map<string, number>();

  constructor(private readonly o: GateFleetOptions) {}

  async start(): Promise<void> {
    const n = this.o.residents ?? 48;
    for (let i = 0; i < n; i++) {
      const w = Wallet.create();
      const issued = (await this.o.api.call('POST', '/api/passes', { type: 'resident', compound: this.o.profile.compound, holderKey: w.holderKey })) as {
        pass: string;
      };
      w.setPass(issued.pass);
      this.wallets.push({ w, inside: i % 2 === 0 });
    }
    for (const g of this.o.profile.gates) {
      for (const r of g.readers) {
        const port = this.o.tcpPorts[r.id];
        if (!port) continue;
        const c = new LineClient('127.0.0.1', port);
        await c.connect();
        this.readers.set(r.id, c);
      }
    }
  }

  /** One resident at one gate; resolves with the reader's answer line. */
  async pass(gate: GateSpec): Promise<string> {
    const entry = this.wallets[this.next++ % this.wallets.length];
    if (!entry) throw new Error('no wallets');
    const dir = entry.inside ? 'out' : 'in';
    const reader = gate.readers.find((r) => r.dir === dir) ?? gate.readers[0];
    const client = reader && this.readers.get(reader.id);
    if (!reader || !client) throw new Error(`no reader at ${gate.id}`);
    const answer = await client.request(`${dir} ${entry.w.code().text}`);
    const verdict = answer.split(' ')[0] ?? '';
    this.answers.set(answer, (this.answers.get(answer) ?? 0) + 1);
    if (verdict === 'GRANT') entry.inside = !entry.inside;
    // Every answered decision is recorded by the gateway (grant or deny): that answer is its acceptance.
    if (verdict === 'GRANT' || verdict === 'DENY') this.o.log.add({ kind: 'gate', device: reader.id, at: Date.now(), detail: answer });
    return answer;
  }

  run(speed = 1): void {
    const gates = this.o.profile.gates;
    const everyMs = (this.o.profile.rates.passEveryS * 1000) / speed / Math.max(1, gates.length);
    this.timer = setInterval(() => {
      const g = gates[this.gateTurn++ % gates.length];
      if (g) this.pass(g).catch(() => undefined);
    }, Math.max(1, everyMs));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.readers.values()) c.close();
    this.readers.clear();
  }
}
