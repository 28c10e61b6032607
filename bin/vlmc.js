#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `npm ci` through `prepare`).
import { main } from "../dist/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    // Internal errors only: every user error is a diagnostic printed by main() itself.
    process.stderr.write(`vlmc: internal error: ${err && err.stack ? err.stack : String(err)}\n`);
    process.exit(70);
  },
);
