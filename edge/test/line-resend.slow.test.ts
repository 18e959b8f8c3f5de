import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatPassLine, type HutongRecord, makeCode } from '@hutong/protocols';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileOutbox } from '../src/outbox/file.js';
import { recordBytes } from '../src/records/provisional.js';
import { freePort, healthy, partStat, segmentText, spawnGateway, until } from './agent-process.js';
import { MuteProxy } from './mute-proxy.js';
import { crypto, issue, keyPair } from './services-helpers.js';
import { TestCloud } from './uplink-cloud.js';

/**
 * The power-loss window for TCP line devices (docs/faults.md): a bin scan and two pass requests are durable in
 * the outbox, the gateway dies before their answers reach the devices, and the devices ask again once the
 * restarted gateway is back. A proxy per device port holds back the gateway's answers; the test waits until the
 * records are in the outbox's segment files, then SIGKILL. The scanner asks again with the same line and gets
 * `OK recorded` without a second record; the reader that sends a request id gets its recorded decision; the
 * control reader without one is decided again, and its request is recorded twice.
 */

let dir: string;
let cloud: TestCloud;
let child: ChildProcess | undefined;
const proxies: MuteProxy[] = [];
const sockets: Socket[] = [];
const startGateway = (configFile: string): ChildProcess => (child = spawnGateway(configFile));

const stat = (httpPort: number, part: string, name: string) => partStat(httpPort, part, name, 0);

/** A line device's connection: `send` writes a line, `answer` resolves with the next answer line. */
async function line(port: number): Promise<{ send(l: string): void; answer(): Promise<string> }> {
  const s = connect(port, '127.0.0.1');
  await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
  s.on('error', () => {});
  sockets.push(s);
  let buf = '';
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  s.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const l = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  return {
    send: (l) => s.write(`${l}\n`),
    answer: () => {
      const l = lines.shift();
      return l !== undefined ? Promise.resolve(l) : new Promise((r) => waiting.push(r));
    },
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hutong-line-resend-'));
  cloud = new TestCloud();
  await cloud.start();
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  child?.kill('SIGKILL');
  for (const p of proxies) await p.stop();
  await cloud?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('scan and pass requests asked again after a gateway power loss', () => {
  it('are answered as stored, not stored again; a reader without a request id is decided and recorded twice', async () => {
    const sitePort = await freePort();
    const httpPort = await freePort();
    const ports = { scA: await freePort(), scB: await freePort(), rdRid: await freePort(), rdPlain: await freePort() };
    const issuer = keyPair();
    const holder = keyPair();
    const dataDir = join(dir, 'data');
    const file = join(dir, 'gw.json');
    await writeFile(
      file,
      JSON.stringify({
        gateway: { id: 'gw-l', dataDir, compound: 'c1' },
        uplink: { url: `mqtt://127.0.0.1:${cloud.port}`, password: 'pw', reconnect: { minMs: 50, maxMs: 500 } },
        broker: { host: '127.0.0.1', port: sitePort },
        http: { port: httpPort },
        devices: [
          { id: 'sc-a', kind: 'scanner', transport: { tcp: { port: ports.scA } } },
          { id: 'sc-b', kind: 'scanner', transport: { tcp: { port: ports.scB } } },
          { id: 'rd-rid', kind: 'reader', transport: { tcp: { port: ports.rdRid } }, gate: 'north', dir: 'in' },
          { id: 'rd-plain', kind: 'reader', transport: { tcp: { port: ports.rdPlain } }, gate: 'north', dir: 'out' },
        ],
        bins: { bins: [{ id: 'BIN-1', category: 'kitchen' }] },
        gates: {
          compound: 'c1',
          issuerKeys: [{ kid: 2, publicKey: issuer.publicB64 }],
          gates: [{ id: 'north', bit: 0, readers: [{ id: 'rd-rid', dir: 'in' }, { id: 'rd-plain', dir: 'out' }] }],
        },
      }),
    );
    // The cloud never acks: every record stays in the outbox, where the test counts them.
    let gw = startGateway(file);
    await until(() => healthy(httpPort));
    const proxy = async (target: number) => {
      const p = new MuteProxy(target);
      await p.start();
      proxies.push(p);
      p.muted = true;
      return p;
    };
    const [pScan, pRid, pPlain] = [await proxy(ports.scA), await proxy(ports.rdRid), await proxy(ports.rdPlain)];

    const scanLine = 'BIN-1;crew=c7;kg=12.5';
    const ridLine = formatPassLine({ code: makeCode(issue(issuer, 2, holder, Date.now(), { type: 'visitor', singleUse: true }), holder.privateKey, Date.now(), crypto), rid: 41 });
    const plainLine = formatPassLine({ code: makeCode(issue(issuer, 2, holder, Date.now()), holder.privateKey, Date.now(), crypto) });
    (await line(pScan.port)).send(scanLine);
    (await line(pRid.port)).send(ridLine);
    (await line(pPlain.port)).send(plainLine);
    // Durable (written by the gateway) but not answered: the window of the fault.
    const outboxDir = join(dataDir, 'var', 'outbox');
    await until(async () => {
      const t = await segmentText(outboxDir);
      return t.includes('"k":"scan","d":"sc-a"') && t.includes('"k":"gate","d":"rd-rid"') && t.includes('"k":"gate","d":"rd-plain"');
    });
    const gone = new Promise((r) => gw.once('exit', r));
    gw.kill('SIGKILL');
    await gone;

    gw = startGateway(file);
    await until(() => healthy(httpPort));
    // The devices ask again, with the same lines, on new connections.
    const ask = async (port: number, l: string) => {
      const c = await line(port);
      c.send(l);
      return c.answer();
    };
    expect(await ask(ports.scA, scanLine)).toBe('OK recorded');
    expect(await ask(ports.rdRid, ridLine)).toBe('GRANT ok');
    // Control: no request id, no way to tell; the empty replay cache grants the same code a second time.
    expect(await ask(ports.rdPlain, plainLine)).toBe('GRANT ok');
    // The duplicate window came back from the outbox: another crew's scan of the bin is a duplicate.
    expect(await ask(ports.scB, 'BIN-1;crew=c8')).toBe('OK duplicate');
    expect(await stat(httpPort, 'bins', 'replayed')).toBe(1);
    expect(await stat(httpPort, 'gates', 'request_replayed')).toBe(1);

    const stopped = new Promise<number | null>((r) => gw.once('exit', r));
    gw.kill('SIGTERM');
    expect(await stopped).toBe(0);
    child = undefined;

    const ob = new FileOutbox(
      { dir: outboxDir, maxBytes: 1 << 26, maxAgeMs: 7 * 86_400_000, liveShare: 0.25, segmentBytes: 1 << 24, groupCommitMs: 0, fsync: 'data', ackFlushMs: 0 },
      pino({ level: 'silent' }),
    );
    await ob.open();
    const recs: HutongRecord[] = [];
    ob.forEachHeld('rec', (it) => recs.push(JSON.parse(Buffer.from(recordBytes(it.data)).toString('utf8')) as HutongRecord));
    await ob.close();
    const of = (k: string, d: string) => recs.filter((r) => r.k === k && r.d === d);
    expect(of('scan', 'sc-a')).toMatchObject([{ bin: 'BIN-1', crew: 'c7', kg: 12.5 }]);
    expect(of('scan', 'sc-b')).toHaveLength(0);
    expect(of('gate', 'rd-rid')).toMatchObject([{ res: 'grant', reason: 'ok', rid: 41 }]);
    const twice = of('gate', 'rd-plain');
    expect(twice.map((r) => (r.k === 'gate' ? r.res : ''))).toEqual(['grant', 'grant']);
  });
});
