import { describe, expect, it } from 'vitest';
import { checkCameraSimConfig, checkScenario } from '../src/camera/config.js';
import { generateScenario } from '../src/camera/scenario.js';
import { type CameraServerOptions, startCameraServer } from '../src/camera/server.js';

describe('camera simulator config', () => {
  it('applies defaults', () => {
    expect(checkCameraSimConfig({})).toMatchObject({ port: 0, host: '127.0.0.1', path: 'cam1', fps: 2, width: 1280, height: 720 });
  });

  it('reports every bad option at once with E_CONFIG, before starting anything', async () => {
    const bad = { fps: 0, path: 'a/b', width: 1279, colour: 'red' } as unknown as CameraServerOptions;
    const err = await startCameraServer(bad).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err?.code).toBe('E_CONFIG');
    for (const path of ['/fps', '/path', '/width', '/colour']) expect(err?.message).toContain(path);
  });

  it('accepts a generated scenario after a JSON round trip and rejects a broken one with every path', () => {
    const s = JSON.parse(JSON.stringify(generateScenario({ seed: 9, items: 4 })));
    expect(checkScenario(s)).toEqual(s);
    s.items[0].item.label = 'tyre';
    s.items[1].fadeInMs = 120_000;
    s.background.regions[0].kind = 'lava';
    let msg = '';
    try {
      checkScenario(s, 'script.json');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('E_CONFIG: script.json');
    expect(msg).toContain('/items/0/item/label');
    expect(msg).toContain('/items/1/fadeInMs');
    expect(msg).toContain('/background/regions/0/kind');
  });

  it('every generated scenario is valid: ground regions whose cut lines cross inside the frame are dropped, not emitted empty', () => {
    const bad: number[] = [];
    for (let seed = 0; seed < 300; seed++) {
      const sc = generateScenario({ seed, durationMs: 60_000, items: 2 });
      try {
        checkScenario(JSON.parse(JSON.stringify(sc)));
      } catch {
        bad.push(seed);
      }
      expect(sc.background.regions.length).toBeGreaterThanOrEqual(1);
    }
    expect(bad).toEqual([]);
  });

  it('rejects an item removed before it appears', () => {
    const s = generateScenario({ seed: 9, items: 2 });
    s.items[0] = { ...s.items[0]!, appearMs: 5_000, removeMs: 5_000 };
    expect(() => checkScenario(s)).toThrow(/removeMs must be after appearMs/);
  });
});
