/**
 * The camera path: capture (ffmpeg) → motion gate → detector (worker) → tracker → events, plus the live view.
 * The agent wires `CameraService` to its RecordSink and to an ImageSink that puts `up/image` frames in the outbox.
 */
import type { ImageHeader } from '@hutong/protocols';

/** Where snapshot crops go: `frame` is a complete `up/image` frame (protocols/image.ts) whose header id is its ack id. */
export interface ImageSink {
  append(frame: Uint8Array, header: ImageHeader): Promise<void>;
}

export { type CaptureOptions, checkFfmpeg, FfmpegCapture, type Frame, ffmpegArgs } from './capture.js';
export { CameraConfig, CameraSection } from './config.js';
export { type Detection, decodeOutput, nms, type OutputFormat } from './detect/decode.js';
export { Detector, type DetectorOptions } from './detect/detector.js';
export { letterboxRgb } from './detect/letterbox.js';
export { parseNames, readOnnxMetadata } from './detect/labels.js';
export { CameraEvents, type Zone } from './events.js';
export { MotionGate } from './motion.js';
export { CameraService, type CameraServiceOptions, type CameraStateListener } from './service.js';
export { Tracker } from './track.js';
export { liveViewPlugin, type LiveViewOptions } from './liveview.js';
