/**
 * bench gate: a pass reader's round trip through the gateway, from its TCP write of the QR text to its read of the
 * answer: TCP line adapter → GateService (offline verification against a 100 000-entry revocation list) → gate
 * record durable in the FileOutbox (fdatasync) → answer. Baseline, in the same run and interleaved: bare Ed25519
 * verification of the same codes (the issuer and the holder signature, the two verifies a decision needs).
 *
 *   npx tsx bench/gate.ts            BENCH_GATE_N=2000 requests per round, BENCH_ROUNDS=3
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  base64urlDecode,
  checkConfig,
  makeCode,
  parseCode,
  type RevocationMessage,
  signPass,
} from '@hutong/protocols';
import { TcpLinesAdapter } from '../edge/src/adapters/tcp-lines.js';
import { createOutbox, OutboxSection } from '../edge/src/outbox/index.js';
import { OutboxSink } from '../edge/src/records/outbox-sink.js';
import { ClockStamper } from '../edge/src/records/stamper.js';
import { GatesSection, GateService, nodePassCrypto } from '../edge/src/services/gates/index.js';
import { LineClient, liveRecordRate, referenceCompound } from '@hutong/simulators';
import { benchLogger, finalLine, fmt, now, percentile, printTable, tempDir } from './harness.js';

const N = Number(process.env.BENCH_GATE_N ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const REVOKED = 100_000;

const raw = (k: { export(o: { format: 'jwk' }): { x?: string; d?: string } }, part: 'x' | 'd') =>
  base64urlDecode(k.export({ format: 'jwk' })[part] as string) as Uint8Array;

/** One TCP connection speaking one line per request, one line per answer. */
async function main(): Promise<void> {
  const logger = benchLogger();
  const dir = await tempDir('gate');
  const crypto = nodePassCrypto();
  const issuer = generateKeyPairSync('ed25519');
  const issuerPriv = raw(issuer.privateKey, 'd');
  const cfg = checkConfig(GatesSection, {
    compound: 'c1',
    issuerKeys: [{ kid: 1, publicKey: issuer.publicKey.export({ format: 'jwk' }).x }],
    gates: [{ id: 'north', bit: 0, readers: [{ id: 'rd-1', dir: 'in' }] }],
  });
  const ob = checkConfig(OutboxSection, { kind: 'file', dir: `${dir.path}/outbox` });
  if (!cfg.ok || !ob.ok) throw new Error('bench config invalid');
  const outbox = createOutbox(ob.value, logger);
  await outbox.open();
  const sink = new OutboxSink(outbox);
  const stamper = new ClockStamper();
  const gates = new GateService({
    config: cfg.value,
    sink,
    stamper,
    logger,
    relay: () => {},
    dataDir: dir.path,
  });
  await gates.start();
  const revoked = Array.from({ length: REVOKED }, () => randomBytes(8).toString('hex'));
  const full: RevocationMessage = { v: 2, from: 0, to: 1, full: true, add: revoked, remove: [] };
  await gates.applyRevocations(full);

  const reader = new TcpLinesAdapter({
    device: { id: 'rd-1', kind: 'reader', transport: { tcp: { port: 0 } } },
    port: 0,
    host: '127.0.0.1',
    services: { pass: gates },
    logger,
  });
  await reader.start();

  // Passes: every request a different pass (a code is refused when seen twice); 1 in 10 revoked. Codes are made
  // per chunk of 100 right before use, so none goes stale on a slow machine.
  const s = Math.floor(Date.now() / 1000);
  const passes = (round: number) =>
    Array.from({ length: N }, (_, i) => {
      const holder = generateKeyPairSync('ed25519');
      const isRevoked = i % 10 === 9;
      const pass = signPass(
        {
          kid: 1,
          passId: isRevoked ? (revoked[(round * N + i) % REVOKED] as string) : randomBytes(8).toString('hex'),
          holder: randomBytes(8).toString('hex'),
          compound: 'c1',
          gates: 1,
          validFrom: s - 3600,
          validUntil: s + 86_400,
          type: 'resident',
          singleUse: false,
          holderKey: raw(holder.publicKey, 'x'),
        },
        issuerPriv,
        crypto,
      );
      return { pass, secret: raw(holder.privateKey, 'd'), revoked: isRevoked };
    });

  // All passes are made before the reader connects (making them takes long on a busy machine, and the reader
  // would be closed as idle); their codes are made per chunk right before use.
  const batches = Array.from({ length: ROUNDS + 1 }, (_, r) => passes(r));
  const client = new LineClient('127.0.0.1', reader.port);
  await client.connect();
  // Warm-up (JIT, first segment file): 200 codes, not measured.
  for (const p of (batches[ROUNDS] ?? []).slice(0, 200)) await client.request(makeCode(p.pass, p.secret, Date.now(), crypto), 10_000);

  const rows: (string | number)[][] = [['round', 'gate p50 ms', 'gate p99 ms', 'bare p50 ms', 'bare p99 ms', 'grants', 'denied revoked', 'wrong']];
  const allGate: number[] = [];
  const allBare: number[] = [];
  const issuerKey = base64urlDecode(cfg.value.issuerKeys[0]?.publicKey as string) as Uint8Array;
  // The rest of the reference compound keeps writing to the same outbox meanwhile: its parking sensors and scanners
  // at their live rate (simulators/ profile), the gates being what this bench drives.
  const ref = referenceCompound();
  const spaces = ref.lots.flatMap((l) => l.spaces.map((sp) => ({ lot: l.id, space: sp.id, sensor: sp.sensor })));
  let refN = 0;
  const background = setInterval(
    () => {
      const sp = spaces[refN++ % spaces.length]!;
      sink.append([{ k: 'park', d: sp.sensor, ts: stamper.stamp(sp.sensor), lot: sp.lot, space: sp.space, occ: refN % 3 === 0, bat: 90 }]).catch(() => {});
    },
    1000 / (liveRecordRate(ref) - ref.gates.length / ref.rates.passEveryS),
  );
  for (let r = 0; r < ROUNDS; r++) {
    const batch = batches[r] ?? [];
    const bare: number[] = [];
    const lat: number[] = [];
    let grants = 0;
    let deniedRevoked = 0;
    let wrong = 0;
    for (let at = 0; at < batch.length; at += 100) {
      const chunk = batch.slice(at, at + 100).map((p) => ({ text: makeCode(p.pass, p.secret, Date.now(), crypto), revoked: p.revoked }));
      // Baseline: the two signature checks of each code, nothing else.
      for (const c of chunk) {
        const code = parseCode(c.text);
        if (!code) throw new Error('bench made a garbled code');
        const t0 = now();
        const ok = crypto.verify(issuerKey, code.pass.signed, code.pass.issuerSig) && crypto.verify(code.pass.holderKey, code.signed, code.holderSig);
        bare.push(now() - t0);
        if (!ok) throw new Error('bench code does not verify');
      }
      for (const c of chunk) {
        const t0 = now();
        const answer = await client.request(c.text, 10_000);
        lat.push(now() - t0);
        if (answer === 'GRANT ok' && !c.revoked) grants++;
        else if (answer === 'DENY revoked' && c.revoked) deniedRevoked++;
        else wrong++;
      }
    }
    allGate.push(...lat);
    allBare.push(...bare);
    rows.push([`${r + 1}`, fmt(percentile(lat, 50), 3), fmt(percentile(lat, 99), 3), fmt(percentile(bare, 50), 3), fmt(percentile(bare, 99), 3), grants, deniedRevoked, wrong]);
  }
  clearInterval(background);
  printTable(rows);
  console.log(`reference load alongside: ${refN} parking records appended to the same outbox`);
  const c = gates.counters();
  console.log(`revocation list: ${c.revocations_size} ids at version ${c.revocations_version}; outbox appended ${outbox.stats().appended}`);
  client.close();
  await reader.stop();
  await gates.stop();
  await outbox.close();
  await dir.remove();
  const p99 = percentile(allGate, 99);
  const bareP99 = percentile(allBare, 99);
  finalLine('gate', `p99 ${fmt(p99, 2)} ms`, p99 / bareP99, 'bare verify');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
