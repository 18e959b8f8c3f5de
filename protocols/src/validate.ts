import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export interface SchemaIssue {
  path: string;
  message: string;
}

export interface Validator<T extends TSchema> {
  readonly schema: T;
  check(value: unknown): value is Static<T>;
  /** Every issue at once (bounded), each with its JSON path. */
  issues(value: unknown, max?: number): SchemaIssue[];
}

/** Compiles a schema once; the one definition gives the runtime check and (via Static) the TS type. */
export function compile<T extends TSchema>(schema: T): Validator<T> {
  const c = TypeCompiler.Compile(schema);
  return {
    schema,
    check: (v: unknown): v is Static<T> => c.Check(v),
    issues(value, max = 50) {
      const out: SchemaIssue[] = [];
      for (const e of c.Errors(value)) {
        out.push({ path: e.path || '/', message: e.message });
        if (out.length >= max) break;
      }
      return out;
    },
  };
}
