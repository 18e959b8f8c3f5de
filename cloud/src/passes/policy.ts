import type { PassType } from '@hutong/protocols';

/**
 * Validity rules per pass type: the default window when the request names none, and the longest one allowed.
 * Visitors get hours-long windows (optionally single use); deliveries are short; workers a shift to a month.
 */
export const PASS_POLICY: Record<PassType, { defaultS: number; maxS: number; singleUseDefault: boolean }> = {
  resident: { defaultS: 365 * 86_400, maxS: 400 * 86_400, singleUseDefault: false },
  visitor: { defaultS: 4 * 3600, maxS: 72 * 3600, singleUseDefault: false },
  worker: { defaultS: 12 * 3600, maxS: 31 * 86_400, singleUseDefault: false },
  delivery: { defaultS: 2 * 3600, maxS: 8 * 3600, singleUseDefault: true },
};

export function validityWindow(
  type: PassType,
  nowS: number,
  req: { validFrom?: number; validUntil?: number; hours?: number },
): { validFrom: number; validUntil: number } | { error: string } {
  const p = PASS_POLICY[type];
  const from = req.validFrom ?? nowS;
  const until = req.validUntil ?? (req.hours !== undefined ? from + Math.round(req.hours * 3600) : from + p.defaultS);
  if (until <= from) return { error: 'validUntil must be after validFrom' };
  if (until - from > p.maxS) return { error: `a ${type} pass may be valid at most ${p.maxS / 3600} h` };
  if (until < nowS) return { error: 'the window is already over' };
  return { validFrom: from, validUntil: until };
}
