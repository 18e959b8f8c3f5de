import type { ShareWindowConfig } from './config.js';

const DAY = 86_400_000;
const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));

/**
 * Is `ms` inside one of the share windows? Local time at a fixed offset. A window whose `to` is not after
 * `from` runs overnight, and its `days` name the day it starts on.
 */
export function inShareWindow(windows: readonly ShareWindowConfig[], ms: number, tzOffsetMin: number): boolean {
  const local = ms + tzOffsetMin * 60_000;
  const dayStart = Math.floor(local / DAY) * DAY;
  const mod = (local - dayStart) / 60_000;
  const weekday = new Date(dayStart).getUTCDay();
  const yesterday = (weekday + 6) % 7;
  for (const w of windows) {
    const from = minutes(w.from);
    const to = minutes(w.to);
    if (from < to) {
      if (w.days.includes(weekday) && mod >= from && mod < to) return true;
    } else if ((w.days.includes(weekday) && mod >= from) || (w.days.includes(yesterday) && mod < to)) {
      return true;
    }
  }
  return false;
}
