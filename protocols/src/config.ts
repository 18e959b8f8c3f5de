import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { SchemaIssue } from './validate.js';

/**
 * Shared config checking for the edge and cloud config files: applies the schema's defaults, then lists every
 * error at once with its JSON path. Schemas set `additionalProperties: false` so a typo is an error, not a
 * silently ignored key. Reading the file is the caller's job (no Node imports here).
 */
export type ConfigResult<T extends TSchema> = { ok: true; value: Static<T> } | { ok: false; issues: SchemaIssue[] };

export function checkConfig<T extends TSchema>(schema: T, input: unknown): ConfigResult<T> {
  const withDefaults = Value.Default(schema, Value.Clone(input ?? {}));
  const issues: SchemaIssue[] = [];
  for (const e of Value.Errors(schema, withDefaults)) {
    issues.push({ path: e.path || '/', message: e.message });
    if (issues.length >= 200) break;
  }
  if (issues.length > 0) return { ok: false, issues };
  return { ok: true, value: withDefaults as Static<T> };
}

export function formatConfigIssues(file: string, issues: SchemaIssue[]): string {
  return [`E_CONFIG: ${file} has ${issues.length} error(s):`, ...issues.map((i) => `  ${i.path}: ${i.message}`)].join('\n');
}
