#!/usr/bin/env node
// Tiny launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import { main } from '../dist/cli/main.js';

// A closed pipe (`spotml … | head`) ends the output quietly, as Unix tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    // A command that watches the stream itself (serve's access log keeps serving) decides instead.
    if (stream.listenerCount('error') > 1) return;
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
