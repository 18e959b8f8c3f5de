/** The synthetic camera: scene renderer, scripted scenario with ground truth, and the RTSP server. */
export { type Background, type BackgroundSpec, type Box, composite, randomBackground, renderBackground } from './compose.js';
export { GROUND_KINDS, type GroundKind } from './ground.js';
export { stillFrames, type LabelledBox, type StillFrame } from './heldout.js';
export { type ItemSpec, LITTER_LABELS, type LitterLabel, renderSprite, type Sprite, VARIANTS } from './items.js';
export { HELDOUT_SEED, type HeldoutLabels, makeHeldout } from './make-heldout.js';
export { generateScenario, opacityAt, type Scenario, type ScenarioOptions, type ScriptItem, stripZones, type Zone } from './scenario.js';
export { type GroundTruthItem, SceneTimeline } from './scene.js';
export { type CameraServer, type CameraServerOptions, startCameraServer } from './server.js';
