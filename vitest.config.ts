import { defineConfig } from 'vitest/config';

/**
 * Two projects: `fast` (pure logic, in-memory brokers, parallel) and `slow` (real influxd, mosquitto, ffmpeg,
 * chromium: one file after another so real servers never compete for the two cores).
 * Every run also writes a JSON report that .ci/run turns into its `N passed, N failed` line.
 */
export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
    projects: [
      {
        test: {
          name: 'fast',
          include: ['{protocols,edge,cloud,simulators}/test/**/*.test.ts'],
          exclude: ['**/*.slow.test.ts', '**/node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'slow',
          include: ['{protocols,edge,cloud,simulators}/test/**/*.slow.test.ts', 'test/**/*.slow.test.ts'],
          exclude: ['**/node_modules/**'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
