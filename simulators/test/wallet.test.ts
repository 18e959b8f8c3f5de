import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { base64urlDecode, base64urlEncode, parseCode, signPass, timeStep } from '@hutong/protocols';
import { afterAll, describe, expect, it } from 'vitest';
import { runWallet } from '../src/wallet/cli.js';
import { Wallet, walletCrypto } from '../src/wallet/index.js';

const run = promisify(execFile);
const issuer = generateKeyPairSync('ed25519');
const issuerPub = base64urlDecode(issuer.publicKey.export({ format: 'jwk' }).x as string) as Uint8Array;
const issuerPriv = base64urlDecode(issuer.privateKey.export({ format: 'jwk' }).d as string) as Uint8Array;

function issueFor(holderKey: string): string {
  const s = Math.floor(Date.now() / 1000);
  const bytes = signPass(
    {
      kid: 3,
      passId: randomBytes(8).toString('hex'),
      holder: randomBytes(8).toString('hex'),
      compound: 'c1',
      gates: 1,
      validFrom: s - 60,
      validUntil: s + 3600,
      type: 'visitor',
      singleUse: true,
      holderKey: base64urlDecode(holderKey) as Uint8Array,
    },
    issuerPriv,
    walletCrypto,
  );
  return base64urlEncode(bytes);
}

describe('wallet', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hutong-wallet-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds a pass and its key; its code carries both signatures and changes every 30 s', () => {
    const w = Wallet.create();
    expect(() => w.code()).toThrow(/no pass/);
    const pass = w.setPass(issueFor(w.holderKey));
    const t = Date.UTC(2026, 10, 20, 8, 0, 5);
    const c = w.code(t);
    expect(c.until).toBe(Date.UTC(2026, 10, 20, 8, 0, 30));
    const parsed = parseCode(c.text);
    expect(parsed?.step).toBe(timeStep(t));
    expect(parsed?.pass.passId).toBe(pass.passId);
    expect(walletCrypto.verify(issuerPub, parsed?.pass.signed as Uint8Array, parsed?.pass.issuerSig as Uint8Array)).toBe(true);
    expect(walletCrypto.verify(parsed?.pass.holderKey as Uint8Array, parsed?.signed as Uint8Array, parsed?.holderSig as Uint8Array)).toBe(true);
    expect(w.code(t + 20_000).text).toBe(c.text);
    expect(w.code(t + 25_000).text).not.toBe(c.text);
    // A pass issued for someone else's key is refused.
    expect(() => w.setPass(issueFor(Wallet.create().holderKey))).toThrow(/another holder/);
    expect(() => w.setPass('garbage')).toThrow(/not a pass/);
  });

  it('CLI: new, import, show, code', async () => {
    const file = join(dir, 'w.json');
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const code = await runWallet([...args, '--wallet', file], (l) => out.push(l));
      expect(code).toBe(0);
      return out.join('\n');
    };
    const pub = await cli('new');
    expect(pub).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await cli('import', '--pass', issueFor(pub))).toMatch(/^stored pass [0-9a-f]{16} \(visitor, c1\)$/);
    expect(JSON.parse(await cli('show'))).toMatchObject({ type: 'visitor', compound: 'c1', singleUse: true });
    const text = await cli('code', '--at', String(Date.UTC(2026, 10, 20)));
    expect(parseCode(text)?.step).toBe(timeStep(Date.UTC(2026, 10, 20)));
    expect(JSON.parse(readFileSync(file, 'utf8')).holderKey).toBe(pub);
    await expect(runWallet(['code', '--wallet', join(dir, 'missing.json')], () => {})).rejects.toThrow();
    // As a program: prints the code and exits 0.
    const r = await run(process.execPath, ['--import', 'tsx', 'simulators/src/wallet/cli.ts', 'code', '--wallet', file]);
    expect(parseCode(r.stdout.trim())).not.toBeNull();
  }, 60_000);
});
