// The browser test's harness: a real jeton (built with the console's assets) on a fresh
// PostgreSQL database, a webhook receiver, and Debian's headless Chromium, started before
// the tests and stopped after them; and the helpers the tests share. test/browser.mjs
// says how to run it.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import { makeCert, Receiver } from './receiver.mjs';
import { freePort, Servers, waitFor } from './servers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const pgURL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable';
const shots = process.env.SCREENSHOT_DIR;
export const password = 'correct horse battery staple';
const run = promisify(execFile);
const servers = new Servers();

let tmp, dbURL, dbName;
export let context, page, jetonURL;
export let tenantKey, tenantKeyID, globalKey, lifecycleKey;
// The confidential client the first test creates: its id and its secret after rotation.
export const web = {};
// The https receiver of the webhooks the third test creates.
export const receiver = new Receiver();
// What the browser reported: console messages, uncaught errors, CSP violations.
export const consoleErrors = [], pageErrors = [];
// Resource errors a step expects (a refused key is a 401, another tenant's page a 404).
let allowedResourceErrors = [];

/** allow lets the steps that follow expect resource errors of these statuses, and no others. */
export function allow(...statuses) {
  allowedResourceErrors = statuses;
}

const watchdog = setTimeout(async () => {
  console.error('test-console: deadline of 8 minutes passed; stopping');
  await cleanup();
  process.exit(1);
}, 8 * 60_000);
watchdog.unref();

async function jeton(args, input) {
  const child = execFile(join(tmp, 'jeton'), [...args, '--json'], { env: { ...process.env, JETON_DATABASE_URL: dbURL }, timeout: 30_000 });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdin.end(input ?? '');
  return new Promise((ok, fail) => child.on('close', (code) => (code === 0 ? ok(JSON.parse(stdout)) : fail(new Error(`jeton ${args.join(' ')}: exit ${code}\n${stderr}`)))));
}

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await context?.close().catch(() => {});
  await servers.stopAll();
  await receiver.stop();
  if (dbName) {
    await run('psql', [pgURL, '-Atqc', `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`], { timeout: 30_000 })
      .catch((e) => console.error(`drop ${dbName}: ${e.message}`));
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
}
process.once('SIGINT', () => cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => cleanup().then(() => process.exit(143)));

export async function screenshot(name) {
  const dir = shots || join(tmp, 'screenshots');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`# screenshot: ${path}`);
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jeton-console-'));
  await run('go', ['build', '-o', join(tmp, 'jeton'), './cmd/jeton'], { cwd: repo, timeout: 300_000 });

  dbName = `jeton_console_${process.pid}_${Date.now()}`;
  await run('psql', [pgURL, '-Atqc', `CREATE DATABASE ${dbName}`], { timeout: 30_000 });
  const u = new URL(pgURL);
  u.pathname = `/${dbName}`;
  dbURL = u.toString();

  await run(join(tmp, 'jeton'), ['migrate', 'up'], { env: { ...process.env, JETON_DATABASE_URL: dbURL }, timeout: 60_000 });
  await jeton(['tenant', 'create', 'acme', '--name', 'Acme Inc.']);
  await jeton(['tenant', 'create', 'other', '--name', 'Other Corp']);
  await jeton(['tenant', 'create', 'nimbus', '--name', 'Nimbus Cloud']);
  await jeton(['user', 'create', '--tenant', 'other', '--username', 'zed-secret-user', '--password-stdin'], `${password}\n`);
  ({ key: tenantKey, id: tenantKeyID } = await jeton(['admin-key', 'create', '--tenant', 'acme', '--name', 'acme console']));
  globalKey = (await jeton(['admin-key', 'create', '--name', 'ops'])).key;
  lifecycleKey = (await jeton(['admin-key', 'create', '--tenant', 'acme', '--name', 'acme support'])).key;
  const certs = await makeCert(tmp);
  await receiver.start(certs);

  const port = await freePort();
  jetonURL = `http://127.0.0.1:${port}`;
  const js = servers.start('jeton', join(tmp, 'jeton'), ['serve'], {
    // A key ring for second factors; the receiver's certificate as the only root, and
    // private addresses allowed, for webhooks to reach it on 127.0.0.1. A machine shared with
    // other work may take more than the 2 s /token allows by default: a 503 there would
    // leave the throttle counts the test checks uncertain.
    env: { ...process.env, JETON_DATABASE_URL: dbURL, JETON_ISSUER: jetonURL, JETON_ADDR: `127.0.0.1:${port}`,
      JETON_OPS_ADDR: '127.0.0.1:0', JETON_SHUTDOWN_DRAIN: '0s', JETON_SECRET_KEYS: `console:${randomBytes(32).toString('base64')}`,
      SSL_CERT_FILE: certs.cert, JETON_WEBHOOK_ALLOW_PRIVATE: 'true', JETON_WEBHOOK_POLL: '200ms',
      JETON_REQUEST_TIMEOUT: '20s' },
  }, tmp);
  await waitFor(`${jetonURL}/readyz`, js);

  context = await chromium.launchPersistentContext(join(tmp, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    timeout: 60_000,
  });
  context.setDefaultTimeout(20_000);
  // CSP violations are reported to the page as events; record them where the test can read them.
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() !== 'error' && m.type() !== 'warning') return;
    const text = m.text();
    const expected = /^Failed to load resource: the server responded with a status of (\d+)/.exec(text);
    if (expected && allowedResourceErrors.includes(Number(expected[1]))) return;
    consoleErrors.push(`${m.type()}: ${text}`);
  });
}, { timeout: 400_000 });

after(async () => {
  clearTimeout(watchdog);
  if (process.exitCode) {
    for (const log of servers.logs()) {
      const text = await readFile(log.path, 'utf8').catch(() => '');
      console.error(`--- ${log.name} log (last 40 lines) ---\n${text.split('\n').slice(-40).join('\n')}`);
    }
  }
  await cleanup();
});

export const problem = () => page.locator('.problem[role=alert]').first();

export async function signIn(key) {
  await page.goto(`${jetonURL}/console/`);
  // Start signed out, whatever the step before left.
  await page.evaluate(() => sessionStorage.clear());
  await page.reload();
  await page.getByLabel('Admin key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

// confirm answers the console's confirmation dialog, checking what it says will stop working.
export async function confirm(button, says) {
  const dialog = page.locator('dialog.confirm[open]');
  await dialog.waitFor();
  assert.match(await dialog.innerText(), says);
  await dialog.getByRole('button', { name: button }).click();
  await dialog.waitFor({ state: 'detached' });
}

// login tries alice's password grant, from the end user's address ip when given (the
// client then forwards it). A busy machine may find every hashing worker taken: jeton then
// answers 503 with Retry-After, and the test waits as a client should.
export async function login(clientID, secret, { pass = password, scope = 'read', ip } = {}) {
  const headers = { Authorization: `Basic ${Buffer.from(`${clientID}:${secret}`).toString('base64')}` };
  if (ip) headers['Jeton-Forwarded-For'] = ip;
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(`${jetonURL}/token`, {
      method: 'POST', headers, body: new URLSearchParams({ grant_type: 'password', username: 'alice', password: pass, scope }),
    });
    if (r.status !== 503 || attempt >= 10) return r;
    await new Promise((ok) => setTimeout(ok, 1000 * Number(r.headers.get('retry-after') || 1)));
  }
}

export async function token(clientID, secret, opts) {
  const r = await login(clientID, secret, opts);
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

// api calls jeton over plain HTTP with a bearer token (an admin key, an access token).
export async function api(method, path, bearer, body) {
  const headers = { Authorization: `Bearer ${bearer}` };
  if (body instanceof URLSearchParams) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  else if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`${jetonURL}${path}`, { method, headers, body: body instanceof URLSearchParams || body === undefined ? body : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

export async function introspect(clientID, secret, t) {
  const r = await fetch(`${jetonURL}/introspect`, {
    method: 'POST',
    headers: { Authorization: `Basic ${Buffer.from(`${clientID}:${secret}`).toString('base64')}` },
    body: new URLSearchParams({ token: t }),
  });
  assert.equal(r.status, 200);
  return r.json();
}

/** revokeAdminKey revokes an admin key with the CLI, behind the console's back. */
export async function revokeAdminKey(id) {
  await run(join(tmp, 'jeton'), ['admin-key', 'revoke', id], { env: { ...process.env, JETON_DATABASE_URL: dbURL }, timeout: 30_000 });
}
