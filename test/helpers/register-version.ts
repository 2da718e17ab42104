/**
 * Child process for test/integration/registry-concurrency.test.ts:
 *   node --import tsx test/helpers/register-version.ts <mlruns> <model> <barrier-dir>
 * Signals readiness with <barrier-dir>/ready-<pid>, waits for <barrier-dir>/go (so all children start
 * together), registers one version and prints {"version": n} on stdout.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileRegistry } from '../../src/registry/file-registry.js';

const [root, model, barrier] = process.argv.slice(2);
if (!root || !model || !barrier) {
  process.stderr.write('usage: register-version.ts <mlruns> <model> <barrier-dir>\n');
  process.exit(2);
}
const registry = new FileRegistry(root, { user: `worker-${process.pid}` });
await writeFile(join(barrier, `ready-${process.pid}`), '');
const deadline = Date.now() + 15_000;
while (!existsSync(join(barrier, 'go'))) {
  if (Date.now() > deadline) {
    process.stderr.write('barrier never opened\n');
    process.exit(3);
  }
  await new Promise((resolve) => setTimeout(resolve, 2));
}
const version = await registry.createModelVersion(model, `s3://bucket/models/${process.pid}`, { tags: { pid: String(process.pid) } });
process.stdout.write(`${JSON.stringify({ version: version.version, pid: process.pid })}\n`);
