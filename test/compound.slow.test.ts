import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { base64urlDecode, decodePass, encodePassBody, makeCode } from '@hutong/protocols';
import { CompoundStack, freePort, influxCount, LineClient, referenceCompound, rng, waitUntil, Wallet, walletCrypto } from '@hutong/simulators';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The compound services through the whole system: gate decisions survive an uplink outage, a revocation issued
 * in the cloud reaches the gate before the next code is verified (uplink up, and after an outage), and live
 * parking counts equal the simulated compound's final state on the gateway and in the cloud.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const profile = referenceCompound();
const PARKING = { debounceMs: 2_000, silenceMs: 20_000, lotThrottleMs: 500 };

describe('compound services end to end', () => {
  let dir: string;
  let stack: CompoundStack;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hutong-compound-'));
    stack = new CompoundStack({
      profile,
      dir,
      separateInflux: false,
      edgeTweak: (c) => {
        c.parking = { ...c.parking, ...PARKING };
        // gate-4 enforces anti-passback (configurable per gate)
        const g = c.gates as { gates: { id: string; antiPassback?: boolean }[] };
        for (const gate of g.gates) if (gate.id === 'gate-4') gate.antiPassback = true;
      },
    });
    await stack.start();
  }, 480_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const gateCount = () => influxCount(stack.influxUrl, 'hutong', `SELECT count("ms") FROM "events"."gate" WHERE "gw" = '${profile.gatewayId}'`);

  it('uploads every gate decision made while the uplink was cut', async () => {
    expect(stack.gates).toBeDefined();
    const gates = stack.gates!;
    const before = stack.log.count('gate');
    stack.proxy.cut();
    const answers: string[] = [];
    for (let i = 0; i < 24; i++) answers.push(await gates.pass(profile.gates[i % profile.gates.length]!));
    expect(answers.filter((a) => a.startsWith('GRANT'))).toHaveLength(24); // the gates kept working offline
    expect(await gateCount()).toBeLessThanOrEqual(before);
    stack.proxy.restore();
    await waitUntil(async () => (await gateCount()) === stack.log.count('gate'), 120_000, 500);
    expect(await gateCount()).toBe(stack.log.count('gate'));
  }, 300_000);

  /** Shows a wallet's current code at gate-1's entry reader. */
  const reader = () => new LineClient('127.0.0.1', readerPort());
  const readerPort = () => {
    const cfg = stack.edgeConfig as { devices: { id: string; transport: { tcp?: { port: number } } }[] };
    return cfg.devices.find((d) => d.id === 'rd-1in')?.transport.tcp?.port ?? 0;
  };
  const applied = (version: number) =>
    stack.edge.waitForLine((l) => l.msg === 'revocations applied' && Number((l.result as { version?: number })?.version) >= version, 120_000);
  const nextStep = async (w: Wallet, prev: string) => {
    // A code is single-shot at a compound: wait for the wallet's next 30 s code.
    await waitUntil(() => w.code().text !== prev, 40_000, 250);
    return w.code().text;
  };

  for (const outage of [false, true]) {
    it(`applies a revocation before the next code is verified${outage ? ' after an uplink outage' : ''}`, async () => {
      const w = Wallet.create();
      const issued = (await stack.operator.call('POST', '/api/passes', { type: 'resident', compound: profile.compound, holderKey: w.holderKey })) as {
        pass: string;
        passId: string;
      };
      w.setPass(issued.pass);
      const c = reader();
      await c.connect();
      const first = w.code().text;
      expect(await c.request(`in ${first}`)).toBe('GRANT ok');
      if (outage) stack.proxy.cut();
      const { version } = (await stack.operator.call('POST', `/api/passes/${issued.passId}/revoke`)) as { version: number };
      if (outage) {
        await sleep(5_000);
        stack.proxy.restore();
      }
      await applied(version);
      const second = await nextStep(w, first);
      expect(await c.request(`out ${second}`)).toBe('DENY revoked');
      c.close();
    }, 300_000);
  }

  it('counts every lot exactly after 10 000 random sensor events, on the gateway and in the cloud', async () => {
    const r = rng(4242);
    const sensors = profile.lots.flatMap((l) => l.spaces.map((s) => ({ lot: l.id, space: s, sensor: s.sensor })));
    const silent = new Set(sensors.filter(() => r() < 0.07).map((s) => s.sensor));
    const final = new Map<string, boolean>();
    let silentSince = 0;
    for (let i = 0; i < 10_000; i++) {
      const s = sensors[Math.floor(r() * sensors.length)]!;
      if (silent.has(s.sensor) && i > 2_000) continue;
      // Flapping: a third of the events toggle a space twice in quick succession.
      const occ = r() < 0.5;
      if (r() < 0.33) await stack.parking.send(s.sensor, { occ: !occ });
      await stack.parking.send(s.sensor, { occ });
      final.set(s.sensor, occ);
      if (i === 2_000) silentSince = Date.now();
    }
    // Active sensors keep reporting their final state (as their 30 s reports would) until the silent ones time out.
    const active = sensors.filter((s) => !silent.has(s.sensor) && final.has(s.sensor));
    const report = () => Promise.all(active.map((s) => stack.parking.send(s.sensor, { occ: final.get(s.sensor)! })));
    while (Date.now() < silentSince + PARKING.silenceMs + 2_000) {
      await report();
      await sleep(3_000);
    }
    await report();
    await sleep(PARKING.debounceMs + PARKING.lotThrottleMs + 3_000);

    // The model: offered spaces only (no_parking never, shared only inside its window), silent or never heard = unknown.
    const localMin = (Math.floor(Date.now() / 60_000) + 480) % 1440;
    const inShare = localMin >= 8 * 60 && localMin < 18 * 60;
    const want: Record<string, { free: number; occupied: number; unknown: number }> = {};
    for (const s of sensors) {
      const lot = (want[s.lot] ??= { free: 0, occupied: 0, unknown: 0 });
      if (s.space.type === 'no_parking' || (s.space.type === 'shared' && !inShare)) continue;
      const occ = final.get(s.sensor);
      if (silent.has(s.sensor) || occ === undefined) lot.unknown++;
      else if (occ) lot.occupied++;
      else lot.free++;
    }
    const onGateway = (await (await fetch(`http://127.0.0.1:${stack.httpPort}/parking/lots`)).json()) as { lots: typeof want };
    expect(onGateway.lots).toEqual(want);
    await waitUntil(async () => {
      const cloud = (await stack.operator.call('GET', '/api/parking/lots')) as { lots: ({ lot: string } & (typeof want)[string])[] };
      return cloud.lots.every((l) => JSON.stringify({ free: l.free, occupied: l.occupied, unknown: l.unknown }) === JSON.stringify(want[l.lot]));
    }, 60_000, 1_000);
    const cloud = (await stack.operator.call('GET', '/api/parking/lots')) as { lots: ({ lot: string } & (typeof want)[string])[] };
    expect(Object.fromEntries(cloud.lots.map((l) => [l.lot, { free: l.free, occupied: l.occupied, unknown: l.unknown }]))).toEqual(want);
  }, 600_000);

  it('is scraped by Prometheus on the gateway and on the cloud', async () => {
    const port = await freePort();
    const cfg = join(dir, 'prometheus.yml');
    const api = new URL(stack.apiUrl);
    writeFileSync(
      cfg,
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s }',
        'scrape_configs:',
        `  - { job_name: gateway, static_configs: [ { targets: ['127.0.0.1:${stack.httpPort}'] } ] }`,
        `  - { job_name: cloud, static_configs: [ { targets: ['127.0.0.1:${api.port}'] } ] }`,
        '',
      ].join('\n'),
    );
    const prom = spawn('prometheus', [`--config.file=${cfg}`, `--storage.tsdb.path=${join(dir, 'prom')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    try {
      const query = async (q: string) => {
        const r = (await (await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as {
          data: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return r.data.result;
      };
      await waitUntil(async () => (await query('up')).filter((x) => x.value[1] === '1').length === 2, 60_000, 500);
      const up = await query('up');
      expect(Object.fromEntries(up.map((x) => [x.metric.job, x.value[1]]))).toEqual({ gateway: '1', cloud: '1' });
      expect((await query('hutong_outbox_depth')).length).toBeGreaterThan(0);
      expect(Number((await query('hutong_cloud_ingest_stored_points'))[0]?.value[1])).toBeGreaterThan(0);
      expect((await query(`hutong_cloud_gateway_online{gw="${profile.gatewayId}"}`))[0]?.value[1]).toBe('1');
    } finally {
      prom.kill('SIGTERM');
    }
  }, 120_000);

  it('denies every kind of bad code shown at a real reader with its own reason, and counts it', async () => {
    const nowS = () => Math.floor(Date.now() / 1000);
    /** A holder whose private key the test knows, so it can also forge. */
    const holder = () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const file = { holderKey: publicKey.export({ format: 'jwk' }).x as string, secret: privateKey.export({ format: 'jwk' }).d as string };
      return { file, w: Wallet.from(file), secret: base64urlDecode(file.secret) as Uint8Array };
    };
    const issue = async (h: ReturnType<typeof holder>, body: Record<string, unknown> = {}) => {
      const r = (await stack.operator.call('POST', '/api/passes', { type: 'resident', compound: profile.compound, holderKey: h.file.holderKey, ...body })) as {
        pass: string;
      };
      h.w.setPass(r.pass);
      return base64urlDecode(r.pass) as Uint8Array;
    };
    const at = (reader: string) => {
      const cfg = stack.edgeConfig as { devices: { id: string; transport: { tcp?: { port: number } } }[] };
      return new LineClient('127.0.0.1', cfg.devices.find((d) => d.id === reader)?.transport.tcp?.port ?? 0);
    };
    const g1 = at('rd-1in');
    const g4 = at('rd-4in');
    await g1.connect();
    await g4.connect();
    const show = (c: LineClient, text: string) => c.request(`in ${text}`);
    const reasonCount = async (reason: string) => {
      const m = await (await fetch(`http://127.0.0.1:${stack.httpPort}/metrics`)).text();
      const line = m.split('\n').find((l) => l.startsWith('hutong_part_stat') && l.includes('part="gates"') && l.includes(`name="deny_${reason}"`));
      return Number(line?.split(' ').pop() ?? 0);
    };

    const good = holder();
    const goodPass = await issue(good);
    const shortLived = holder();
    await issue(shortLived, { type: 'visitor', hours: 0.01 }); // valid for 36 s
    const future = holder();
    await issue(future, { type: 'visitor', validFrom: nowS() + 3600, validUntil: nowS() + 7200 });
    const gate2Only = holder();
    await issue(gate2Only, { gates: [1] });
    const single = holder();
    await issue(single, { type: 'delivery' }); // single use by default
    const commuter = holder();
    await issue(commuter);

    const decoded = decodePass(goodPass)!.pass;
    const forgedIssuer = Uint8Array.from(goodPass);
    forgedIssuer[forgedIssuer.length - 1] = (forgedIssuer[forgedIssuer.length - 1] as number) ^ 0xff;
    const unknownKey = new Uint8Array([...encodePassBody({ ...decoded, kid: 200 }), ...decoded.issuerSig]);
    const impostor = holder();
    const cases: [string, string][] = [
      ['garbled', 'HT:this-is-no-pass'],
      ['unknown_key', makeCode(unknownKey, good.secret, Date.now(), walletCrypto)],
      ['bad_issuer_sig', makeCode(forgedIssuer, good.secret, Date.now(), walletCrypto)],
      ['bad_holder_sig', makeCode(goodPass, impostor.secret, Date.now(), walletCrypto)],
      ['stale', makeCode(goodPass, good.secret, Date.now() - 180_000, walletCrypto)],
      ['not_yet_valid', future.w.code().text],
      ['wrong_gate', gate2Only.w.code().text],
    ];
    for (const [reason, text] of cases) {
      const before = await reasonCount(reason);
      expect(await show(g1, text)).toBe(`DENY ${reason}`);
      expect(await reasonCount(reason)).toBe(before + 1);
    }
    // replayed: a screenshot of a code that already opened the gate
    const shot = good.w.code().text;
    expect(await show(g1, shot)).toBe('GRANT ok');
    expect(await show(g1, shot)).toBe('DENY replayed');
    // single use and anti-passback need the wallet's next code
    const firstSingle = single.w.code().text;
    const firstCommuter = commuter.w.code().text;
    expect(await show(g1, firstSingle)).toBe('GRANT ok');
    expect(await show(g4, firstCommuter)).toBe('GRANT ok');
    expect(await show(g1, await nextStep(single.w, firstSingle))).toBe('DENY used');
    expect(await show(g4, await nextStep(commuter.w, firstCommuter))).toBe('DENY passback');
    // expired: the 36 s visitor pass, once its window and the 30 s clock-skew allowance are over
    await waitUntil(() => nowS() > (shortLived.w.pass()?.validUntil ?? 0) + 31, 120_000, 500);
    expect(await show(g1, shortLived.w.code().text)).toBe('DENY expired');
    expect(await reasonCount('expired')).toBeGreaterThan(0);
    g1.close();
    g4.close();
  }, 300_000);
});
