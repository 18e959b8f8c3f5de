import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Wallet } from './wallet.js';

/**
 * Holder wallet on the command line (docs/passes.md):
 *   tsx simulators/src/wallet/cli.ts new     --wallet w.json                   make a holder key, print its public half
 *   tsx simulators/src/wallet/cli.ts import  --wallet w.json --pass <base64url> store the issued pass
 *   tsx simulators/src/wallet/cli.ts request --wallet w.json --api URL --type visitor --compound c1 [--hours 4]
 *                                            [--token T] [--single-use]      ask the cloud to issue one and store it
 *   tsx simulators/src/wallet/cli.ts show    --wallet w.json                   pass details (no secrets)
 *   tsx simulators/src/wallet/cli.ts code    --wallet w.json [--at ms] [--watch]  print the current QR text
 */
const USAGE = 'usage: cli.ts new|import|request|show|code --wallet FILE [options] (see docs/passes.md)';

/** Runs one command; `print` receives each output line. Returns the exit code. */
export async function runWallet(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      wallet: { type: 'string', default: 'wallet.json' },
      pass: { type: 'string' },
      api: { type: 'string' },
      token: { type: 'string' },
      type: { type: 'string', default: 'visitor' },
      compound: { type: 'string' },
      hours: { type: 'string' },
      'single-use': { type: 'boolean', default: false },
      at: { type: 'string' },
      watch: { type: 'boolean', default: false },
    },
  });
  const cmd = positionals[0];
  const file = values.wallet as string;
  switch (cmd) {
    case 'new': {
      const w = Wallet.create();
      await w.save(file);
      print(w.holderKey);
      return 0;
    }
    case 'import': {
      if (!values.pass) throw new Error('--pass is required');
      const w = await Wallet.load(file);
      const p = w.setPass(values.pass);
      await w.save(file);
      print(`stored pass ${p.passId} (${p.type}, ${p.compound})`);
      return 0;
    }
    case 'request': {
      if (!values.api || !values.compound) throw new Error('--api and --compound are required');
      const w = await Wallet.load(file);
      const body: Record<string, unknown> = { type: values.type, compound: values.compound, holderKey: w.holderKey };
      if (values.hours) body.hours = Number(values.hours);
      if (values['single-use']) body.singleUse = true;
      const res = await fetch(values.api, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(values.token ? { authorization: `Bearer ${values.token}` } : {}) },
        body: JSON.stringify(body),
      });
      const out = (await res.json()) as { pass?: string; code?: string; message?: string };
      if (!res.ok || !out.pass) throw new Error(`issuer refused: ${res.status} ${out.code ?? ''} ${out.message ?? ''}`);
      const p = w.setPass(out.pass);
      await w.save(file);
      print(`stored pass ${p.passId} (${p.type}, ${p.compound})`);
      return 0;
    }
    case 'show': {
      const p = (await Wallet.load(file)).pass();
      if (!p) throw new Error('no pass in this wallet');
      const iso = (s: number) => new Date(s * 1000).toISOString();
      print(
        JSON.stringify({ passId: p.passId, holder: p.holder, type: p.type, compound: p.compound, kid: p.kid, gates: p.gates, validFrom: iso(p.validFrom), validUntil: iso(p.validUntil), singleUse: p.singleUse }, null, 2),
      );
      return 0;
    }
    case 'code': {
      const w = await Wallet.load(file);
      if (!values.watch) {
        print(w.code(values.at ? Number(values.at) : Date.now()).text);
        return 0;
      }
      for (;;) {
        const c = w.code();
        print(c.text);
        await new Promise((r) => setTimeout(r, Math.max(100, c.until - Date.now())));
      }
    }
    default:
      print(USAGE);
      return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runWallet(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(`wallet: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
