import type { BinScheduleConfig } from './config.js';

const DAY = 86_400_000;

/**
 * The latest scheduled collection instant (ms) whose grace period has ended by `nowMs`, or null if none in the
 * last 8 days. Schedules are in local time at a fixed offset (`tzOffsetMin`): compounds do not observe DST.
 */
export function lastClosedSlot(s: BinScheduleConfig, nowMs: number, tzOffsetMin: number): number | null {
  const off = tzOffsetMin * 60_000;
  const limit = nowMs - s.graceMin * 60_000;
  const localDay = Math.floor((limit + off) / DAY) * DAY;
  const minutes = s.times.map((t) => Number(t.slice(0, 2)) * 60 + Number(t.slice(3))).sort((a, b) => b - a);
  for (let d = 0; d <= 8; d++) {
    const dayStart = localDay - d * DAY;
    const weekday = new Date(dayStart).getUTCDay();
    if (!s.days.includes(weekday)) continue;
    for (const m of minutes) {
      const at = dayStart + m * 60_000 - off;
      if (at <= limit) return at;
    }
  }
  return null;
}
