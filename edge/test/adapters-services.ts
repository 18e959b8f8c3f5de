import type { PassAnswer, PassRequest, ScanAnswer, ScanRequest } from '@hutong/protocols';
import { HutongError } from '@hutong/protocols';
import type { DeviceService } from '../src/adapters/contract.js';
import type { SiteServices } from '../src/adapters/services.js';

/** Test-local services for the line adapters: they remember what they were asked. */
export function lineServices(): SiteServices & { scans: [string, ScanRequest][]; passes: [string, PassRequest][] } {
  const scans: [string, ScanRequest][] = [];
  const passes: [string, PassRequest][] = [];
  const scan: DeviceService<ScanRequest, ScanAnswer> = {
    async handle(dev, req) {
      if (req.code === 'boom') throw new HutongError('E_OUTBOX_FULL');
      if (req.code === 'nobin') return { code: req.code, result: 'unknown' };
      scans.push([dev, req]);
      return { code: req.code, result: 'recorded' };
    },
  };
  const pass: DeviceService<PassRequest, PassAnswer> = {
    async handle(dev, req) {
      passes.push([dev, req]);
      return req.code === 'good' ? { result: 'grant', reason: 'ok' } : { result: 'deny', reason: 'bad_signature' };
    },
  };
  return { scan, pass, scans, passes };
}
