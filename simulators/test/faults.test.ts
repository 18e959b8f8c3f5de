import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CutProxy, verdict, verdictWithin } from '../src/index.js';

function echoServer(): Promise<net.Server> {
  const s = net.createServer((c) => c.pipe(c));
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

function roundTrip(port: number, msg: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(msg));
    c.setEncoding('utf8');
    c.once('data', (d: string) => {
      c.destroy();
      resolve(d);
    });
    c.once('error', reject);
    c.once('close', () => reject(new Error('closed')));
  });
}

describe('uplink cut proxy', () => {
  let echo: net.Server;
  let proxy: CutProxy;
  beforeAll(async () => {
    echo = await echoServer();
    proxy = new CutProxy({ host: '127.0.0.1', port: (echo.address() as net.AddressInfo).port });
    await proxy.start();
  });
  afterAll(async () => {
    await proxy.stop();
    echo.close();
  });

  it('passes traffic, drops it while cut, and passes it again after restore', async () => {
    expect(await roundTrip(proxy.port, 'a')).toBe('a');
    proxy.cut();
    await expect(roundTrip(proxy.port, 'b')).rejects.toThrow();
    proxy.restore();
    expect(await roundTrip(proxy.port, 'c')).toBe('c');
  });

  it('cut drops connections that were open', async () => {
    const c = net.connect(proxy.port, '127.0.0.1');
    await new Promise((r) => c.once('connect', r));
    const closed = new Promise((r) => c.once('close', r));
    proxy.cut();
    await closed;
    proxy.restore();
    expect(c.destroyed).toBe(true);
  });
});

describe('verdict', () => {
  it('names lost and duplicated readings', () => {
    expect(verdict(10, 10)).toEqual({ lost: 0, duplicated: 0 });
    expect(verdict(10, 8)).toEqual({ lost: 2, duplicated: 0 });
    expect(verdict(10, 12)).toEqual({ lost: 0, duplicated: 2 });
  });
});

describe('verdictWithin', () => {
  it('lets an unanswered request be stored at most once, and no more', () => {
    expect(verdictWithin(10, 10, 0)).toEqual({ lost: 0, duplicated: 0, unansweredStored: 0 });
    expect(verdictWithin(10, 11, 1)).toEqual({ lost: 0, duplicated: 0, unansweredStored: 1 });
    expect(verdictWithin(10, 10, 1)).toEqual({ lost: 0, duplicated: 0, unansweredStored: 0 });
    expect(verdictWithin(10, 12, 1)).toEqual({ lost: 0, duplicated: 1, unansweredStored: 1 });
    expect(verdictWithin(10, 9, 3)).toEqual({ lost: 1, duplicated: 0, unansweredStored: 0 });
  });
});
