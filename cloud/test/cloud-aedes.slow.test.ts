import { cloudSuite } from './cloud-suite.js';

cloudSuite('aedes');
