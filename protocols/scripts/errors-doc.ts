/** Writes docs/errors.md from the error catalogue, so the doc never drifts from the code. */
import fs from 'node:fs';
import { ErrorCodes } from '../src/errors.js';

const rows = Object.entries(ErrorCodes).map(([code, text]) => `| \`${code}\` | ${text} |`);
const doc = [
  '# Error codes',
  '',
  'Every refusal, rejection and startup failure in a Hutong log carries one of these codes (`code` field in',
  'pino JSON lines, or the prefix of an error message). Generated from `protocols/src/errors.ts` by',
  '`npx tsx protocols/scripts/errors-doc.ts`.',
  '',
  '| code | meaning |',
  '|---|---|',
  ...rows,
  '',
].join('\n');
fs.writeFileSync(new URL('../../docs/errors.md', import.meta.url), doc);
