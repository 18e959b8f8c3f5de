import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LineClient } from '../src/index.js';

/** A line server that drops the first `drop` connections as soon as it read a line, then answers `ok <line>`. */
async function flakyServer(drop: number): Promise<{ port: number; seen: string[]; server: net.Server }> {
  const seen: string[] = [];
  let conns = 0;
  const server = net.createServer((c) => {
    const mine = conns++;
    c.setEncoding('utf8');
    c.on('error', () => undefined);
    c.on('data', (d: string) => {
      for (const l of d.split('\n').filter(Boolean)) {
        seen.push(l);
        if (mine < drop) c.destroy();
        else c.write(`ok ${l}\n`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, seen, server };
}

describe('LineClient.ask', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });

  it('asks again with the same line when the connection dropped before the answer, one request at a time', async () => {
    const s = await flakyServer(2);
    servers.push(s.server);
    const c = new LineClient('127.0.0.1', s.port);
    const [a, b] = await Promise.all([c.ask('first', { retryMs: 10 }), c.ask('second', { retryMs: 10 })]);
    expect(a).toEqual({ answer: 'ok first', sent: 3 });
    expect(b).toEqual({ answer: 'ok second', sent: 1 });
    expect(s.seen).toEqual(['first', 'first', 'first', 'second']);
    c.close();
  });

  it('gives up after giveUpMs: a line it wrote is reported as sent, one it could not write is not', async () => {
    const s = await flakyServer(1_000);
    servers.push(s.server);
    const c = new LineClient('127.0.0.1', s.port);
    const out = await c.ask('lost', { retryMs: 10, giveUpMs: 100 });
    expect(out.answer).toBeUndefined();
    expect(out.sent).toBeGreaterThan(0);
    c.close();
    // Nobody listening: never written.
    const closed = await flakyServer(0);
    await new Promise((r) => closed.server.close(r));
    const d = new LineClient('127.0.0.1', closed.port);
    expect(await d.ask('nowhere', { retryMs: 10, giveUpMs: 50 })).toEqual({ answer: undefined, sent: 0 });
    d.close();
  });
});
