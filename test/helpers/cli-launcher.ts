/**
 * The CLI from src/ as one bundled file, for tests that spawn `spotml` processes (serve, signals): esbuild
 * bundles src/cli/main.ts (packages stay external) into node_modules/.cache/<cacheName>, or, when esbuild
 * cannot, the entry runs through tsx. Returns the node arguments that start it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export async function buildCliLauncher(cacheName: string): Promise<string[]> {
  const dir = join(REPO, 'node_modules', '.cache', cacheName);
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `import { main } from ${JSON.stringify(join(REPO, 'src/cli/main.ts'))};\nprocess.exitCode = await main(process.argv);\n`);
  try {
    const esbuild = await import('esbuild');
    const outfile = join(dir, 'spotml.mjs');
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      packages: 'external',
      // version.ts finds package.json relative to its own URL.
      define: { 'import.meta.url': JSON.stringify(`file://${join(REPO, 'src/version.ts')}`) },
      logLevel: 'silent',
    });
    return [outfile];
  } catch {
    return ['--import', 'tsx', entry];
  }
}
