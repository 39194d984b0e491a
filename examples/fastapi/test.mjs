// The FastAPI example, end to end, as a person would use it: a real jeton on a fresh
// database, the Notes app under uvicorn, and Swagger UI in Debian's headless Chromium.
// Run it with `make test-examples` after `make deps`. It needs Go, PostgreSQL (the server
// of TEST_DATABASE_URL, else postgres@127.0.0.1:5432) and psql. Set SCREENSHOT_DIR to keep
// the screenshots.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const pgURL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable';
const password = 'correct horse battery staple';
const run = promisify(execFile);

// Everything the run starts, so that it can all be stopped, whatever happens.
const children = [];
let tmp, dbURL, dbName, context, page;
let jetonURL, apiURL, app, rs;
const pageErrors = [];

// A hard deadline: a hang anywhere still ends the run, with everything stopped.
const watchdog = setTimeout(async () => {
  console.error('test-examples: deadline of 5 minutes passed; stopping');
  await cleanup();
  process.exit(1);
}, 5 * 60_000);
watchdog.unref();

async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

// jeton runs the CLI against the example's database and returns its JSON output.
async function jeton(args, input) {
  const child = execFile(join(tmp, 'jeton'), [...args, '--json'], { env: { ...process.env, JETON_DATABASE_URL: dbURL }, timeout: 30_000 });
  const out = new Promise((ok, fail) => {
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => (code === 0 ? ok(JSON.parse(stdout)) : fail(new Error(`jeton ${args.join(' ')}: exit ${code}\n${stderr}`))));
  });
  child.stdin.end(input ?? '');
  return out;
}

// start runs a server in the background, its output in a log file.
function start(name, cmd, args, opts) {
  const logPath = join(tmp, `${name}.log`);
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logPath);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  children.push({ name, child, logPath });
  return child;
}

// waitFor polls url until it answers 200, for at most 60 seconds.
async function waitFor(url, child) {
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

async function stop({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((ok) => child.once('exit', ok));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await context?.close().catch(() => {});
  await Promise.all(children.map(stop));
  if (dbName) {
    await run('psql', [pgURL, '-Atqc', `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`], { timeout: 30_000 })
      .catch((e) => console.error(`drop ${dbName}: ${e.message}`));
  }
  if (tmp) await rm(tmp, { recursive: true, force: true });
}
process.once('SIGINT', () => cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => cleanup().then(() => process.exit(143)));

// screenshot saves the page, or just what, as a person would see it.
async function screenshot(name, what) {
  const dir = process.env.SCREENSHOT_DIR || join(tmp, 'screenshots');
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await (what ?? page).screenshot({ path });
  console.log(`# screenshot: ${path}`);
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jeton-fastapi-'));
  await run('go', ['build', '-o', join(tmp, 'jeton'), './cmd/jeton'], { cwd: repo, timeout: 300_000 });

  dbName = `jeton_example_${process.pid}_${Date.now()}`;
  await run('psql', [pgURL, '-Atqc', `CREATE DATABASE ${dbName}`], { timeout: 30_000 });
  const u = new URL(pgURL);
  u.pathname = `/${dbName}`;
  dbURL = u.toString();

  const jetonPort = await freePort();
  let apiPort = await freePort();
  while (apiPort === jetonPort) apiPort = await freePort();
  jetonURL = `http://127.0.0.1:${jetonPort}`;
  apiURL = `http://127.0.0.1:${apiPort}`;

  // The world of the README's FastAPI section, made with the jeton CLI.
  await run(join(tmp, 'jeton'), ['migrate', 'up'], { env: { ...process.env, JETON_DATABASE_URL: dbURL }, timeout: 60_000 });
  await jeton(['tenant', 'create', 'notes']);
  app = await jeton(['client', 'create', '--tenant', 'notes', '--name', 'Notes Swagger UI', '--public',
    '--grant', 'password', '--scope', 'read write', '--cors-origin', apiURL]);
  rs = await jeton(['client', 'create', '--tenant', 'notes', '--name', 'Notes API', '--introspect']);
  await jeton(['user', 'create', '--tenant', 'notes', '--username', 'alice', '--password-stdin'], `${password}\n`);

  const js = start('jeton', join(tmp, 'jeton'), ['serve'], {
    env: { ...process.env, JETON_DATABASE_URL: dbURL, JETON_ISSUER: jetonURL, JETON_ADDR: `127.0.0.1:${jetonPort}`, JETON_OPS_ADDR: '127.0.0.1:0',
      JETON_SHUTDOWN_DRAIN: '0s' },
  });
  const uv = start('uvicorn', '/usr/bin/python3', ['-m', 'uvicorn', 'app:app', '--host', '127.0.0.1', '--port', String(apiPort)], {
    cwd: here,
    env: {
      ...process.env, JETON_URL: jetonURL, JETON_RS_CLIENT_ID: rs.client_id,
      JETON_RS_CLIENT_SECRET: rs.client_secret, JETON_APP_CLIENT_ID: app.client_id,
    },
  });
  await Promise.all([waitFor(`${jetonURL}/readyz`, js), waitFor(`${apiURL}/openapi.json`, uv)]);

  const profile = join(tmp, 'chromium-profile');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  context.setDefaultTimeout(20_000);
  page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
}, { timeout: 400_000 });

after(async () => {
  clearTimeout(watchdog);
  if (process.exitCode) {
    for (const { name, logPath } of children) {
      const log = await readFile(logPath, 'utf8').catch(() => '');
      console.error(`--- ${name} log (last 40 lines) ---\n${log.split('\n').slice(-40).join('\n')}`);
    }
  }
  await cleanup();
});

// A password-grant token for alice as the public client, the way a browser app gets one.
async function login(scope) {
  const r = await fetch(`${jetonURL}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', username: 'alice', password, scope, client_id: app.client_id }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()).access_token;
}

test('a request without a token is 401 with a Bearer challenge', async () => {
  const r = await fetch(`${apiURL}/notes`);
  assert.equal(r.status, 401);
  assert.match(r.headers.get('www-authenticate'), /^Bearer/);
});

test('a token that is not live is 401 invalid_token', async () => {
  for (const token of ['nonsense', `jat_${'0'.repeat(49)}`]) {
    const r = await fetch(`${apiURL}/notes`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(r.status, 401, token);
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  }
});

test('a live token without the route\'s scope is 403 insufficient_scope', async () => {
  const token = await login('read');
  const ok = await fetch(`${apiURL}/notes`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(ok.status, 200);
  const r = await fetch(`${apiURL}/notes`, {
    method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ text: 'hello' }),
  });
  assert.equal(r.status, 403);
  assert.match(r.headers.get('www-authenticate'), /error="insufficient_scope"/);
});

test('a token revoked at jeton stops working at once', async () => {
  const token = await login('read');
  const revoked = await fetch(`${jetonURL}/revoke`, {
    method: 'POST', body: new URLSearchParams({ token, client_id: app.client_id }),
  });
  assert.equal(revoked.status, 200);
  const r = await fetch(`${apiURL}/me`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(r.status, 401);
});

test('Swagger UI: Authorize with the password flow, then Try it out on a protected route', async () => {
  try {
    await page.goto(`${apiURL}/docs`);
    await page.locator('.info .title', { hasText: 'Notes' }).waitFor();

    // Authorize: the dialog posts to jeton's /token from the app's origin (CORS).
    await page.locator('.auth-wrapper button.authorize').click();
    const dialog = page.locator('.modal-ux');
    await dialog.waitFor();
    assert.equal(await dialog.locator('#client_id_password').inputValue(), app.client_id);
    await dialog.locator('#oauth_username').fill('alice');
    await dialog.locator('#oauth_password').fill(password);
    for (const scope of ['read', 'write']) {
      await dialog.locator(`label[for="${scope}-password-checkbox-OAuth2PasswordBearer"]`).click();
    }
    await screenshot('1-authorize-dialog');
    const tokenResponse = page.waitForResponse((r) => r.url() === `${jetonURL}/token` && r.request().method() === 'POST');
    await dialog.locator('button.authorize', { hasText: 'Authorize' }).click();
    const tr = await tokenResponse;
    assert.equal(tr.status(), 200);
    assert.equal(tr.headers()['access-control-allow-origin'], apiURL);
    await dialog.locator('button', { hasText: 'Logout' }).waitFor();
    await screenshot('2-authorized');
    await dialog.locator('button.btn-done').click();

    // POST /notes (needs write), then GET /notes (needs read): Try it out, Execute.
    const post = page.locator('#operations-default-add_note_notes_post');
    await post.locator('.opblock-summary').click();
    await post.locator('button.try-out__btn').click();
    await post.locator('textarea.body-param__text').fill(JSON.stringify({ text: 'written from Swagger UI' }));
    await post.locator('button.execute').click();
    await post.locator('.live-responses-table tbody .response-col_status', { hasText: '201' }).waitFor();

    const get = page.locator('#operations-default-read_notes_notes_get');
    await get.locator('.opblock-summary').click();
    await get.locator('button.try-out__btn').click();
    await get.locator('button.execute').click();
    const status = get.locator('.live-responses-table tbody .response-col_status');
    await status.waitFor();
    const body = get.locator('.live-responses-table .response-col_description .highlight-code pre');
    await body.waitFor();
    await screenshot('3-try-it-out', get);
    assert.equal((await status.innerText()).trim(), '200');
    assert.deepEqual(JSON.parse(await body.innerText()), [{ text: 'written from Swagger UI' }]);
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  } catch (e) {
    await screenshot('failure').catch(() => {});
    throw e;
  }
});
