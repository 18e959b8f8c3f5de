import { cloudSuite } from './cloud-suite.js';

cloudSuite('mosquitto');
