import { rng } from '../profiles/rng.js';

/** Seeded random source for the camera scene: one seed fixes every texture, distractor and item. */
export class Rand {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = rng(seed);
  }
  float(): number {
    return this.next();
  }
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    return Math.floor(this.range(lo, hi + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)] as T;
  }
  /** A fresh seed for a child generator, so adding draws to one part never shifts another. */
  seed(): number {
    return Math.floor(this.next() * 0xffffffff) >>> 0;
  }
}
