import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // CI has 2 cores: tfjs-wasm tests are CPU-bound, two workers keep them from starving each other.
    maxWorkers: 2,
  },
});
