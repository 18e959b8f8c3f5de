import { checkConfig } from '@hutong/protocols';
import { describe, expect, it } from 'vitest';
import { CameraSection } from '../src/camera/config.js';

describe('cameras config section', () => {
  it('fills every default for a camera given only id and url', () => {
    const r = checkConfig(CameraSection, { cameras: [{ id: 'gate-n', url: 'rtsp://10.0.0.21/s1' }] });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const c = r.value.cameras[0];
    expect(c).toMatchObject({
      fps: 2,
      zones: [],
      masks: [],
      sendFullFrame: false,
      model: { path: 'edge/models/litter.onnx', format: 'yolov8', conf: 0.5, iou: 0.45, litterLabels: ['bottle', 'can', 'cup', 'bag', 'paper'] },
      motion: { enabled: true, width: 160, height: 90, fullCheckS: 10 },
      events: { nOfM: [2, 3], cleanAfterS: 10 },
    });
    expect(c?.model.threads).toBeUndefined();
    expect(r.value.ffmpegPath).toBe('ffmpeg');
  });

  it('reports every error at once: typos, bad ids, out-of-range values, short polygons, unknown formats', () => {
    const r = checkConfig(CameraSection, {
      cameras: [
        {
          id: 'cam/1',
          url: 'rtsp://x',
          fsp: 2,
          zones: [{ id: 'z1', polygon: [[0, 0], [10, 0]] }],
          model: { conf: 2, format: 'yolov7' },
          motion: { threshold: -1 },
        },
      ],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const paths = r.issues.map((i) => i.path);
    for (const p of ['/cameras/0/fsp', '/cameras/0/id', '/cameras/0/zones/0/polygon', '/cameras/0/model/conf', '/cameras/0/model/format', '/cameras/0/motion/threshold']) {
      expect(paths.some((x) => x.startsWith(p)), p).toBe(true);
    }
  });
});
