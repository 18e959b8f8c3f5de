import { Id } from '@hutong/protocols';
import { type Static, Type } from '@sinclair/typebox';

/**
 * The `cameras` section of the edge config. Zones and masks are polygons in frame pixels of the camera's own
 * stream. Defaults fit the reference compound (1280×720 at 2 fps) and the shipped detector.
 */
const PointT = Type.Tuple([Type.Number({ minimum: 0 }), Type.Number({ minimum: 0 })]);
const PolygonT = Type.Array(PointT, { minItems: 3, maxItems: 64, description: 'polygon [[x, y], ...] in frame px' });

export const CameraZone = Type.Object(
  {
    id: Id,
    polygon: PolygonT,
  },
  { additionalProperties: false, description: 'a region where litter counts; its id is the subject of zone_dirty/zone_clean' },
);

export const CameraModel = Type.Object(
  {
    path: Type.String({ default: 'edge/models/litter.onnx', minLength: 1, description: 'ONNX detector file' }),
    labels: Type.Optional(Type.String({ minLength: 1, description: "labels file, one per line; default: the model's `names` metadata" })),
    format: Type.Union([Type.Literal('yolov8'), Type.Literal('yolov5'), Type.Literal('e2e')], {
      default: 'yolov8',
      description: 'output layout: yolov8 [1,4+nc,N] (also YOLO11), yolov5 [1,N,5+nc], e2e [1,K,6]',
    }),
    inputSize: Type.Optional(
      Type.Tuple([Type.Integer({ minimum: 32, maximum: 4096 }), Type.Integer({ minimum: 32, maximum: 4096 })], {
        description: '[w, h], only for models with a dynamic input size',
      }),
    ),
    conf: Type.Number({ default: 0.5, minimum: 0.01, maximum: 1, description: 'confidence threshold' }),
    iou: Type.Number({ default: 0.45, minimum: 0.05, maximum: 1, description: 'NMS IoU threshold' }),
    litterLabels: Type.Array(Type.String({ pattern: '^[a-z_]{1,32}$' }), {
      default: ['bottle', 'can', 'cup', 'bag', 'paper'],
      maxItems: 256,
      description: 'labels that count as litter; other classes are ignored',
    }),
    threads: Type.Optional(Type.Integer({ minimum: 1, maximum: 16, description: 'onnxruntime intra-op threads' })),
  },
  { additionalProperties: false, default: {} },
);

export const CameraMotion = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'false: run the detector on every kept frame' }),
    width: Type.Integer({ default: 160, minimum: 16, maximum: 640 }),
    height: Type.Integer({ default: 90, minimum: 9, maximum: 360 }),
    pixelDelta: Type.Integer({ default: 18, minimum: 1, maximum: 255, description: 'grey difference that counts a pixel as changed' }),
    threshold: Type.Number({ default: 0.002, minimum: 0, maximum: 1, description: 'share of unmasked pixels that must change' }),
    alpha: Type.Number({ default: 0.05, minimum: 0.001, maximum: 1, description: 'background update weight per frame' }),
    fullCheckS: Type.Number({ default: 10, minimum: 0.5, maximum: 3600, description: 'run the detector at least this often' }),
  },
  { additionalProperties: false, default: {} },
);

export const CameraEventsConfig = Type.Object(
  {
    nOfM: Type.Tuple([Type.Integer({ minimum: 1, maximum: 30 }), Type.Integer({ minimum: 1, maximum: 30 })], {
      default: [2, 3],
      description: 'an item is reported after n detections within m detector runs (2 of 3 at 2 fps: 0.5 s after the first hit)',
    }),
    lostAfterS: Type.Number({ default: 5, minimum: 0, maximum: 600, description: 'an item is gone when unseen this long ...' }),
    minMisses: Type.Integer({ default: 3, minimum: 1, maximum: 100, description: '... and over at least this many detector runs' }),
    cleanAfterS: Type.Number({ default: 10, minimum: 0, maximum: 3600, description: 'zone_clean after all its items are gone this long' }),
    iouMatch: Type.Number({ default: 0.3, minimum: 0.01, maximum: 1 }),
  },
  { additionalProperties: false, default: {} },
);

export const CameraConfig = Type.Object(
  {
    id: Id,
    url: Type.String({ minLength: 1, description: 'rtsp://user:pass@host/path, or lavfi:<graph> for a test source' }),
    fps: Type.Number({ default: 2, minimum: 0.1, maximum: 30, description: 'frames per second taken from the stream' }),
    zones: Type.Array(CameraZone, {
      default: [],
      maxItems: 32,
      description: 'where litter counts; none = the whole frame is one zone named after the camera',
    }),
    masks: Type.Array(PolygonT, { default: [], maxItems: 32, description: 'ignored regions (also blacked out in full frames)' }),
    model: CameraModel,
    motion: CameraMotion,
    events: CameraEventsConfig,
    sendFullFrame: Type.Boolean({ default: false, description: 'also send a downscaled, masked full frame with each event' }),
    fullFrameWidth: Type.Integer({ default: 640, minimum: 64, maximum: 1920 }),
    stallS: Type.Number({ default: 10, minimum: 1, maximum: 600, description: 'restart ffmpeg when no frame came this long' }),
    queueSize: Type.Integer({ default: 2, minimum: 1, maximum: 64, description: 'frames held; the oldest is dropped beyond' }),
    healthEveryS: Type.Number({ default: 30, minimum: 1, maximum: 3600 }),
  },
  { additionalProperties: false },
);

export const CameraSection = Type.Object(
  {
    ffmpegPath: Type.String({ default: 'ffmpeg', minLength: 1 }),
    backoffMinS: Type.Number({ default: 1, minimum: 0.05, maximum: 60 }),
    backoffMaxS: Type.Number({ default: 30, minimum: 0.1, maximum: 3600 }),
    cameras: Type.Array(CameraConfig, { default: [], maxItems: 64 }),
  },
  { additionalProperties: false, default: {} },
);

export type CameraConfig = Static<typeof CameraConfig>;
export type CameraSection = Static<typeof CameraSection>;
