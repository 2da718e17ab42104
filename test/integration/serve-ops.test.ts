/**
 * `spotml serve` operated as a deployment would: keep-alive behind a load balancer, a signal to the whole
 * process group (Ctrl-C, systemd), a worker that crashes and a crash loop, a model source that starts failing,
 * a log pipe that breaks, and listen errors. Real processes on free loopback ports; every wait is bounded.
 */
import type { ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rename, writeFile } from 'node:fs/promises';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCliLauncher, spawnCaptured } from '../helpers/cli-launcher.js';
import { forestPackage } from '../unit/serve/fixtures.js';

let launcher: string[];
let root: string;
let packageDir: string;
const running = new Set<ChildProcess>();

interface Server {
  child: ChildProcess;
  url: string;
  port: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function launch(args: string[], detached = false): Omit<Server, 'url' | 'port'> {
  return spawnCaptured([...launcher, 'serve', ...args], { cwd: root, detached }, running);
}

async function serve(args: string[], detached = false): Promise<Server> {
  const launched = launch([...args, ...(args.includes('--port') ? [] : ['--port', '0'])], detached);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const match = /"msg":"(?:cluster )?listening"[^\n]*"url":"([^"]+)"/.exec(launched.stdout());
    if (match) return { ...launched, url: match[1], port: Number(new URL(match[1]).port) };
    if (launched.child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${launched.stderr()}\n${launched.stdout()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitFor(what: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return what();
}

/** Exits within `ms`, else is killed (so a hang fails the test instead of stalling it). */
async function exitCode(server: Pick<Server, 'child' | 'exited'>, ms = 15_000): Promise<number | null> {
  const timer = setTimeout(() => server.child.kill('SIGKILL'), ms);
  const code = await server.exited;
  clearTimeout(timer);
  return code;
}

function invoke(url: string): Promise<Response> {
  return fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances":[[1,2,3,4]]}' });
}

const BODY = '{"instances":[[1,2,3,4]]}';
const head = (extra = ''): string => `POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n${extra}\r\n`;

/** A request whose body arrives after `delayMs` (so it is in flight meanwhile); what came back. */
function slowRequest(port: number, delayMs: number): Promise<string> {
  return new Promise((resolvePromise) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => socket.destroy(), delayMs + 5000);
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolvePromise(received);
    });
    socket.on('connect', () => {
      socket.write(head() + BODY.slice(0, 5));
      setTimeout(() => socket.write(BODY.slice(5)), delayMs);
    });
  });
}

/** Sends one request per entry of `gapsMs` on one socket, waiting that long before each; the raw answers. */
function keepAliveRequests(port: number, gapsMs: number[]): Promise<string[]> {
  return new Promise((resolvePromise) => {
    const socket = connect(port, '127.0.0.1');
    const answers: string[] = [];
    let current = '';
    let closed = false;
    socket.on('error', () => undefined);
    socket.on('data', (d) => (current += d.toString('latin1')));
    socket.on('close', () => {
      closed = true;
    });
    socket.on('connect', async () => {
      for (const gap of gapsMs) {
        await new Promise((r) => setTimeout(r, gap));
        current = '';
        if (closed) {
          answers.push('closed');
          continue;
        }
        socket.write(head() + BODY);
        await waitFor(() => closed || /\r\n\r\n[\s\S]*\}$/.test(current), 3000);
        answers.push(current);
      }
      socket.destroy();
      resolvePromise(answers);
    });
  });
}

function metricValue(text: string, line: RegExp): number {
  const match = line.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

function listeningPids(stdout: string): number[] {
  return stdout
    .split('\n')
    .filter((l) => l.includes('"msg":"listening"'))
    .map((l) => (JSON.parse(l) as { pid: number }).pid);
}

beforeAll(async () => {
  launcher = await buildCliLauncher('spotml-serve-ops-it');
  root = await mkdtemp(join(tmpdir(), 'spotml-serve-ops-'));
  packageDir = join(root, 'model');
  await forestPackage({ dir: packageDir, trees: 5, seed: 3 });
}, 60_000);

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
});

describe('spotml serve in operation', () => {
  it('keeps idle keep-alive connections open longer than a load balancer does (65 s by default), past the headers timeout', async () => {
    const byDefault = await serve([packageDir]);
    const first = await invoke(byDefault.url);
    expect(first.status).toBe(200);
    // Node's own default (5 s) is shorter than AWS ALB's 60 s idle timeout: the balancer would reuse closed sockets.
    expect(first.headers.get('keep-alive')).toBe('timeout=65');
    expect(await exitCode((byDefault.child.kill('SIGTERM'), byDefault))).toBe(0);

    // An idle gap longer than the headers timeout (1 s here) must not end a kept-alive socket; the keep-alive timeout does.
    const server = await serve([packageDir, '--keep-alive-timeout', '1.5', '--request-timeout', '1']);
    // Node may give the socket up to a second's grace past the advertised timeout, so the last gap is well past it.
    const answers = await keepAliveRequests(server.port, [0, 1300, 3500]);
    expect(answers[0]).toMatch(/^HTTP\/1\.1 200 [\s\S]*Keep-Alive: timeout=1/i);
    expect(answers[1]).toMatch(/^HTTP\/1\.1 200 /);
    expect(answers[2]).toBe('closed');
    server.child.kill('SIGTERM');
    expect(await exitCode(server)).toBe(0);
  });

  it('drains every worker when the whole process group gets SIGTERM (systemd, Ctrl-C), answering in-flight requests', async () => {
    const server = await serve([packageDir, '--workers', '2'], true);
    await waitFor(() => listeningPids(server.stdout()).length === 2, 10_000);
    const inFlight = Array.from({ length: 4 }, () => slowRequest(server.port, 800));
    await new Promise((r) => setTimeout(r, 300));
    // Each worker gets the signal directly and again from the primary; the second must not kill it mid-drain.
    process.kill(-(server.child.pid as number), 'SIGTERM');
    const answers = await Promise.all(inFlight);
    for (const answer of answers) expect(answer).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*Connection: close[\s\S]*"predictions"/i);
    expect(await exitCode(server)).toBe(0);
    expect(server.stdout().match(/"msg":"stopped"/g)).toHaveLength(3);
  });

  it('restarts a crashed worker without counters going down, and gives up with exit 70 when restarts keep failing', async () => {
    const dir = join(root, 'crash-model');
    await cp(packageDir, dir, { recursive: true });
    const server = await serve([dir, '--workers', '2', '--poll-interval', '0']);
    expect(await waitFor(() => listeningPids(server.stdout()).length === 2, 10_000)).toBe(true);
    for (let i = 0; i < 20; i++) expect((await invoke(server.url)).status).toBe(200);
    const served = (text: string): number => metricValue(text, /^spotml_requests_total\{route="invocations",status="200"\} (\d+)$/m);
    expect(served(await (await fetch(`${server.url}/metrics`)).text())).toBe(20);

    const [victim] = listeningPids(server.stdout());
    process.kill(victim, 'SIGKILL');
    expect(await waitFor(() => listeningPids(server.stdout()).length === 3, 10_000)).toBe(true);
    expect(server.stdout()).toMatch(/"msg":"worker died; restarting it"[^\n]*"signal":"SIGKILL"/);
    // The dead worker's requests still count: a counter that drops reads as a reset (and a spike) in rate().
    expect(served(await (await fetch(`${server.url}/metrics`)).text())).toBe(20);

    // The model disappears; a crashed worker cannot come back: restarts back off, then the primary gives up.
    await rename(join(dir, 'model.json'), join(dir, 'model.json.gone'));
    const [, second, third] = listeningPids(server.stdout());
    process.kill(second, 'SIGKILL');
    process.kill(third, 'SIGKILL');
    expect(await exitCode(server, 30_000)).toBe(70);
    expect(server.stderr()).toMatch(/serve workers keep failing to start \(5 in a row, last exit code 4\)/);
    const delays = server
      .stdout()
      .split('\n')
      .filter((l) => l.includes('worker died'))
      .map((l) => (JSON.parse(l) as { restartInMs: number }).restartInMs);
    // Each death within a minute doubles the wait before the next restart.
    expect(delays.slice(0, 4)).toEqual([200, 400, 800, 1600]);
  }, 60_000);

  it('reports a failing model source once (not every poll) in the log and in /metrics, and its recovery', async () => {
    const dir = join(root, 'refresh-model');
    await cp(packageDir, dir, { recursive: true });
    const server = await serve([dir, '--poll-interval', '0.05']);
    const metrics = async (): Promise<string> => (await fetch(`${server.url}/metrics`)).text();
    expect(await metrics()).toMatch(/^spotml_model_refresh_failing 0$/m);

    // A damaged rewrite of the package: a new version (new mtime) that cannot load.
    await writeFile(join(dir, 'model.json'), '{"not": "a model"');
    const failed = (): string[] => server.stdout().split('\n').filter((l) => l.includes('"msg":"model refresh failed'));
    expect(await waitFor(() => failed().length > 0, 5000)).toBe(true);
    await new Promise((r) => setTimeout(r, 1500));
    expect(failed()).toHaveLength(1);
    const during = await metrics();
    expect(during).toMatch(/^spotml_model_refresh_failing 1$/m);
    // Polled 30 times in 1.5 s, but the broken version is fetched again only after a backoff (1 s, then 2 s).
    expect(metricValue(during, /^spotml_model_load_failures_total (\d+)$/m)).toBeLessThanOrEqual(3);
    expect((await invoke(server.url)).status).toBe(200);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    await cp(join(packageDir, 'model.json'), join(dir, 'model.json'));
    expect(await waitFor(() => server.stdout().includes('"msg":"model swapped"'), 5000)).toBe(true);
    expect(server.stdout()).toMatch(/"msg":"model refresh works again","failedChecks":\d+/);
    expect(await metrics()).toMatch(/^spotml_model_refresh_failing 0$/m);
    server.child.kill('SIGTERM');
    expect(await exitCode(server)).toBe(0);
  });

  it('keeps serving when its log pipe breaks (EPIPE), says so once on stderr and counts the lost lines', async () => {
    const server = await serve([packageDir]);
    server.child.stdout?.destroy();
    for (let i = 0; i < 30; i++) expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    expect(await waitFor(() => server.stderr().includes('the log destination failed'), 3000)).toBe(true);
    expect(server.stderr().match(/the log destination failed \(EPIPE\)/g)).toHaveLength(1);
    for (let i = 0; i < 5; i++) expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(metricValue(text, /^spotml_log_lines_dropped_total (\d+)$/m)).toBeGreaterThanOrEqual(5);
    server.child.kill('SIGTERM');
    expect(await exitCode(server)).toBe(0);
  });

  it('refuses to start with one line and exit 2 on a port in use or an address this machine does not have', async () => {
    const blocker = createNetServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const inUse = launch([packageDir, '--port', String(port)]);
      expect(await exitCode(inUse)).toBe(2);
      expect(inUse.stderr().trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`port ${port} on 127\\.0\\.0\\.1 is in use: pick another --port`))]);
    } finally {
      blocker.close();
    }
    // 192.0.2.0/24 is reserved for documentation: no machine has it.
    const foreign = launch([packageDir, '--host', '192.0.2.1', '--port', '0', '--auth-token', 't']);
    expect(await exitCode(foreign)).toBe(2);
    expect(foreign.stderr().trim().split('\n')).toEqual([expect.stringMatching(/--host 192\.0\.2\.1 is not an address of this machine/)]);
    const badPort = launch([packageDir, '--port', '70000']);
    expect(await exitCode(badPort)).toBe(2);
    expect(badPort.stderr()).toMatch(/--port must be 0 to 65535, got 70000/);
  });
});
