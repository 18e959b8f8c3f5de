import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timeStep } from '@hutong/protocols';
import { CompoundStack, freePort, influxCount, LineClient, referenceCompound, rng, waitUntil, Wallet } from '@hutong/simulators';
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
      expect(timeStep(Date.now())).toBeGreaterThan(0);
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
});
