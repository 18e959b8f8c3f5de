import { pino } from 'pino';
import { MemoryOutbox } from '../src/outbox/memory.js';
import { type OutboxTestLimits, outboxContract } from './outbox-abstract.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

function limits(l: OutboxTestLimits) {
  return { maxBytes: 1 << 24, maxAgeMs: 7 * 24 * 3600_000, liveWindowMs: 5000, liveShare: 0.25, ...l };
}

outboxContract('MemoryOutbox', async (l) => {
  const ob = new MemoryOutbox(limits(l), log);
  await ob.open();
  return ob;
});
