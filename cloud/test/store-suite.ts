import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Db, MIGRATIONS, migrate, schemaVersion } from '../src/store/index.js';

/**
 * One abstract suite for the relational store, run against every engine (embedded PGlite, PostgreSQL server),
 * so both speak the same dialect and hand back the same value types.
 */
export function storeSuite(name: string, open: () => Promise<Db>, cleanup: () => Promise<void> = async () => {}): void {
  describe(`store: ${name}`, () => {
    let db: Db;
    // PGlite's first open compiles its WASM (seconds, more on a loaded machine)
    beforeAll(async () => {
      db = await open();
    }, 120_000);
    afterAll(async () => {
      await db?.close();
      await cleanup();
    });

    it('applies every migration once and records the version', async () => {
      const first = await migrate(db);
      expect(first).toEqual(MIGRATIONS.map((m) => m.version));
      expect(await migrate(db)).toEqual([]);
      expect(await schemaVersion(db)).toBe(MIGRATIONS.at(-1)?.version);
    });

    it('round-trips parameters, jsonb and timestamptz with the same types', async () => {
      await db.query('INSERT INTO gateways (id, name, compound, grid) VALUES ($1, $2, $3, $4)', ['gw-1', 'North', 'c1', 'g7']);
      await db.query('INSERT INTO devices (gateway, id, kind, attrs) VALUES ($1, $2, $3, $4)', [
        'gw-1',
        'p-1',
        'parking',
        JSON.stringify({ lot: 'L1', space: 'S9' }),
      ]);
      const rows = await db.query<{ id: string; attrs: { lot: string }; updated: Date }>(
        'SELECT id, attrs, updated FROM devices WHERE gateway = $1',
        ['gw-1'],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]?.attrs).toEqual({ lot: 'L1', space: 'S9' });
      expect(rows[0]?.updated).toBeInstanceOf(Date);
      const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM devices');
      expect(n[0]?.n).toBe(1);
    });

    it('commits a transaction that resolves', async () => {
      await db.transaction(async (tx) => {
        await tx.query('INSERT INTO gateways (id, name, compound) VALUES ($1, $2, $3)', ['gw-2', 'South', 'c1']);
      });
      expect(await db.query('SELECT id FROM gateways WHERE id = $1', ['gw-2'])).toHaveLength(1);
    });

    it('rolls back a transaction that throws, and the store keeps serving', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO gateways (id, name, compound) VALUES ($1, $2, $3)', ['gw-3', 'East', 'c1']);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await db.query('SELECT id FROM gateways WHERE id = $1', ['gw-3'])).toHaveLength(0);
      expect(await db.query('SELECT id FROM gateways')).toHaveLength(2);
    });

    it('rejects constraint violations (primary key, check) without corrupting state', async () => {
      await expect(db.query("INSERT INTO gateways (id, name, compound) VALUES ('gw-1', 'dup', 'c1')")).rejects.toThrow();
      await expect(
        db.query("INSERT INTO devices (gateway, id, kind) VALUES ('gw-1', 'x', 'toaster')"),
      ).rejects.toThrow();
      await expect(db.query("INSERT INTO devices (gateway, id, kind) VALUES ('nope', 'x', 'camera')")).rejects.toThrow();
      expect(await db.query('SELECT id FROM gateways')).toHaveLength(2);
    });

    it('cascades deletes from gateways to their devices', async () => {
      await db.query('DELETE FROM gateways WHERE id = $1', ['gw-1']);
      expect(await db.query('SELECT id FROM devices WHERE gateway = $1', ['gw-1'])).toHaveLength(0);
    });
  });
}
