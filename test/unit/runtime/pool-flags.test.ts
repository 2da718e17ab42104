/** Workers inherit the process's Node flags, except those that run inline code instead of the worker's file. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { workerExecArgv } from '../../../src/runtime/pool.js';

describe('workerExecArgv', () => {
  it('drops -e/-p/--eval/--print with their code and --input-type with its value, and keeps the rest', () => {
    expect(workerExecArgv(['--import', 'tsx', '--input-type=module', '-e', 'console.log(1)', '--max-old-space-size=4096'])).toEqual(['--import', 'tsx', '--max-old-space-size=4096']);
    expect(workerExecArgv(['--eval', 'x()', '--print=1', '-p', 'y', '--input-type', 'module', '--enable-source-maps'])).toEqual(['--enable-source-maps']);
    expect(workerExecArgv(['--expose-gc'])).toEqual(['--expose-gc']);
  });

  it('matches what Node really puts in execArgv for node -e', () => {
    const argv = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '--expose-gc', '-e', 'console.log(JSON.stringify(process.execArgv))'], { encoding: 'utf8' })) as string[];
    expect(argv).toContain('-e');
    expect(workerExecArgv(argv)).toEqual(['--expose-gc']);
  });
});
