import { formatPassLine } from '@hutong/protocols';
import type { AcceptanceLog } from '../devices/accepted.js';
import { LineClient } from '../devices/lines.js';
import type { CompoundProfile, GateSpec } from '../profiles/compound.js';
import { Wallet } from '../wallet/index.js';
import type { CloudApi } from './api.js';

/**
 * Residents walking through the gates: each holds a wallet with a pass issued by the cloud, and shows its current
 * code at a gate reader (TCP line). A code changes every 30 s and is single-shot at a compound, so the fleet
 * rotates through enough residents that nobody shows the same code twice.
 *
 * Each reader numbers its requests (`;rid=N`) and, like a real one, asks again with the same line when the
 * connection dropped before the answer came (the gateway died): the gateway answers a repeat with the decision it
 * recorded, if it recorded one (docs/passes.md).
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
  private readonly rids = new Map<string, number>();
  private readonly inFlight = new Set<Promise<string>>();
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

  /** One resident at one gate; resolves with the reader's answer line ('' if it never got one). */
  pass(gate: GateSpec): Promise<string> {
    const p = this.present(gate);
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  private async present(gate: GateSpec): Promise<string> {
    const entry = this.wallets[this.next++ % this.wallets.length];
    if (!entry) throw new Error('no wallets');
    const dir = entry.inside ? 'out' : 'in';
    const reader = gate.readers.find((r) => r.dir === dir) ?? gate.readers[0];
    const client = reader && this.readers.get(reader.id);
    if (!reader || !client) throw new Error(`no reader at ${gate.id}`);
    const rid = (this.rids.get(reader.id) ?? 0) + 1;
    this.rids.set(reader.id, rid);
    const { answer, sent } = await client.ask(formatPassLine({ dir, code: entry.w.code().text, rid }), { giveUpMs: 60_000 });
    const at = Date.now();
    if (answer === undefined) {
      // Sent, never answered: the gateway may have recorded a decision nobody heard.
      if (sent > 0) this.o.log.noAnswer({ kind: 'gate', device: reader.id, at, detail: `rid ${rid}` });
      return '';
    }
    const [verdict = '', reason = ''] = answer.split(' ');
    this.answers.set(answer, (this.answers.get(answer) ?? 0) + 1);
    if (verdict === 'GRANT') entry.inside = !entry.inside;
    // Every decision the gateway recorded is answered GRANT/DENY with a pass reason: that answer is its
    // acceptance. A refusal (`DENY E_…`) or a decision it could not record (`not_recorded`, `fail_open`) is not.
    const recorded = (verdict === 'GRANT' || verdict === 'DENY') && !/^E_/.test(reason) && reason !== 'not_recorded' && reason !== 'fail_open';
    const item = { kind: 'gate' as const, device: reader.id, at, detail: answer };
    if (sent > 1) this.o.log.askedAgain(item);
    if (recorded) this.o.log.add(item);
    else this.o.log.refuse(item);
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

  /** Stops the residents; a request still unanswered is given up (and logged as such) before this resolves. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const c of this.readers.values()) c.close();
    await Promise.allSettled([...this.inFlight]);
    this.readers.clear();
  }
}
