import { openPglite } from '../src/store/index.js';
import { storeSuite } from './store-suite.js';

storeSuite('embedded PGlite (memory)', () => openPglite());
