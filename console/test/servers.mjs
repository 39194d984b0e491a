// Servers a browser test starts: each in the background with its output in a log file,
// all stopped at the end whatever happens.

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// waitFor polls url until it answers 200, for at most 60 seconds.
export async function waitFor(url, child) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((ok) => setTimeout(ok, 200));
  }
  throw new Error(`${url} did not answer 200 within 60s`);
}

export class Servers {
  #children = [];

  start(name, cmd, args, opts, logDir) {
    const path = join(logDir, `${name}.log`);
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(path);
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.#children.push({ name, child, path });
    return child;
  }

  logs() {
    return this.#children.map(({ name, path }) => ({ name, path }));
  }

  async stopAll() {
    await Promise.all(this.#children.map(({ child }) => stop(child)));
  }
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
