import { openStore } from '../src/store/index.js';
import { registrySuite } from './registry-suite.js';

registrySuite('embedded PGlite (memory)', () => openStore({}));
