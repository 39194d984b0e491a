// The console's pages as a tenant key and a global key see them: sign-in, settings,
// clients, users, live events, revocation, isolation, tenants, the global stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import {
  allow, confirm, globalKey, introspect, jetonURL, page, password, problem, revokeAdminKey, screenshot, signIn, tenantKey, tenantKeyID, token, web,
} from './harness.mjs';

test('the console is served with a strict CSP and cache headers', async () => {
  const index = await fetch(`${jetonURL}/console/`);
  assert.equal(index.status, 200);
  const csp = index.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, /style-src 'self';/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /unsafe|https?:/);
  assert.equal(index.headers.get('cache-control'), 'no-cache');
  const html = await index.text();
  const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html);
  assert.ok(asset, `index.html has no built script (is this the placeholder?):\n${html}`);
  assert.doesNotMatch(html, /<script>|<style>|style=/, 'inline script or style');
  const js = await fetch(`${jetonURL}${asset[1]}`);
  assert.equal(js.status, 200);
  assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  assert.equal(js.headers.get('content-security-policy'), csp);

  // Everything the page loads, gzipped, stays under 300 KiB.
  let gzipped = gzipSync(html).length;
  for (const [, path] of html.matchAll(/(?:src|href)="(\/console\/[^"]+)"/g)) {
    const r = await fetch(`${jetonURL}${path}`);
    assert.equal(r.status, 200, path);
    gzipped += gzipSync(Buffer.from(await r.arrayBuffer())).length;
  }
  console.log(`# console assets: ${(gzipped / 1024).toFixed(1)} KiB gzipped`);
  assert.ok(gzipped < 300 * 1024, `the console's assets weigh ${gzipped} bytes gzipped`);
});

test('the console, signed in with a tenant key', async () => {
  try {
    // A wrong key is refused with the API's problem.
    allow(401);
    await signIn(`jak_${'0'.repeat(49)}`);
    await problem().waitFor();
    assert.match(await problem().innerText(), /Unauthorized[\s\S]*admin key/);
    await screenshot('sign-in-refused');
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a refused key is not kept');
    allow();

    // From the keyboard: the key typed into the focused field, Enter submits.
    await page.getByLabel('Admin key').fill('');
    await page.getByLabel('Admin key').focus();
    await page.keyboard.type(tenantKey);
    await page.keyboard.press('Enter');
    await page.getByTestId('who').filter({ hasText: 'acme console' }).waitFor();
    await page.getByRole('heading', { name: /Acme Inc\./ }).waitFor();
    assert.ok(!page.url().includes('jak_'), 'the key is never in the URL');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('jeton.adminKey')), tenantKey);
    await screenshot('tenant-settings');
    // Settings: a bad duration is refused beside its field; a good one is saved, in Go's form.
    await page.getByLabel('Access token lifetime').fill('soon');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('.field-error', { hasText: 'a duration like 15m' }).waitFor();
    await page.getByLabel('Access token lifetime').fill('10m');
    await page.getByLabel('Refresh token lifetime (idle)').fill('7d');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    assert.equal(await page.getByLabel('Refresh token lifetime (idle)').inputValue(), '168h');

    // A client, its secret read from the page.
    await page.getByRole('link', { name: 'Clients' }).click();
    const create = page.getByRole('form', { name: 'Create a client' });
    await create.getByLabel('Name').fill('Acme web');
    await create.getByLabel('password', { exact: true }).check();
    await create.getByLabel('refresh_token').check();
    await create.getByLabel('Scopes', { exact: true }).fill('read write account');
    await create.getByLabel(/Resource server/).check();
    assert.equal(await create.getByLabel(/Forwards its users' addresses/).count(), 0, 'a tenant key may not set forwards_user_ip');
    await create.getByLabel('CORS origins').fill('not an origin');
    await create.getByRole('button', { name: 'Create client' }).click();
    await create.locator('.field-error', { hasText: 'not an origin' }).waitFor();
    await create.getByLabel('CORS origins').fill('https://app.acme.example');
    await create.getByRole('button', { name: 'Create client' }).click();
    const secret = (await page.getByTestId('new-secret').innerText()).trim();
    const clientID = (await page.getByTestId('new-client-id').innerText()).trim();
    assert.match(secret, /^jcs_[0-9A-Za-z]{49}$/);
    assert.match(clientID, /^jc_/);
    await screenshot('client-created');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('cell', { name: 'Acme web' }).waitFor();
    await screenshot('clients');

    // A user: the policy's errors inline first, then created.
    await page.getByRole('link', { name: 'Users' }).click();
    const user = page.getByRole('form', { name: 'Create a user' });
    await user.getByLabel('Username').fill('Alice');
    await user.getByLabel('Password', { exact: true }).fill('short');
    await user.getByLabel('Password again').fill('shorter');
    await user.getByRole('button', { name: 'Create user' }).click();
    await user.locator('.field-error', { hasText: 'at least 15 characters' }).waitFor();
    await user.getByLabel('Password', { exact: true }).fill(password);
    await user.getByRole('button', { name: 'Create user' }).click();
    await user.locator('.field-error', { hasText: 'the two passwords differ' }).waitFor();
    await screenshot('user-create-errors');
    await user.getByLabel('Password again').fill(password);
    await user.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('heading', { name: /^alice/ }).waitFor();

    // The live events page sees the login the test makes over plain HTTP.
    await page.getByRole('link', { name: 'Events' }).click();
    await page.locator('tr[data-kind=user_created]').waitFor();
    await page.getByLabel('Live: follow new events').check();
    const tokens = await token(clientID, secret);
    assert.equal((await introspect(clientID, secret, tokens.access_token)).active, true);
    const login = page.locator('tr.new[data-kind=login_success]');
    await login.waitFor();
    assert.match(await login.innerText(), /Acme web/);
    await screenshot('events-live');

    // Revoke the user's sessions in the UI: the token is dead at once.
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByRole('link', { name: 'alice' }).click();
    await page.getByRole('cell', { name: clientID }).waitFor();
    await screenshot('user');
    await page.getByRole('button', { name: 'Revoke all sessions' }).click();
    await confirm('Revoke all sessions', /every client, stops working/);
    await page.getByRole('status').filter({ hasText: /Revoked 2 tokens/ }).waitFor();
    await page.getByText('No live session.').waitFor();
    assert.deepEqual(await introspect(clientID, secret, tokens.access_token), { active: false });

    // Rotate the client's secret with an hour of overlap: both secrets work meanwhile.
    await page.getByRole('link', { name: 'Clients' }).click();
    await page.getByRole('link', { name: 'Acme web' }).click();
    await page.getByLabel('Keep the current secrets valid for').fill('1h');
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm('Rotate secret', /keep working for 1h/);
    const rotated = (await page.getByTestId('new-secret').innerText()).trim();
    assert.notEqual(rotated, secret);
    assert.equal(await page.locator('.card', { hasText: 'Secrets' }).locator('tbody tr').count(), 2, 'old and new secret listed');
    await screenshot('client-rotated');
    for (const s of [secret, rotated]) assert.deepEqual(await introspect(clientID, s, tokens.access_token), { active: false });
    Object.assign(web, { id: clientID, secret: rotated });

    await page.getByRole('link', { name: 'Revocation' }).click();
    await page.getByRole('heading', { name: 'Revocation' }).waitFor();
    await screenshot('revocation');

    // Another tenant's pages: the API's 404, and nothing of that tenant on the page.
    allow(404);
    for (const path of ['/t/other', '/t/other/users', '/t/other/clients', '/t/other/events', '/t/other/webhooks']) {
      await page.goto(`${jetonURL}/console/#${path}`);
      await problem().waitFor();
      const text = await page.locator('main').innerText();
      assert.match(text, /Not found \(404\)/, path);
      assert.doesNotMatch(await page.content(), /zed-secret-user|Other Corp/, path);
    }
    await screenshot('other-tenant-not-found');
    allow();

    // Phone width.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${jetonURL}/console/#/t/acme/users`);
    await page.getByRole('link', { name: 'alice' }).waitFor();
    await screenshot('users-phone');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Sign out forgets the key.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);

    // A key revoked while the console uses it: the next answer, 401, signs the console out.
    await signIn(tenantKey);
    await page.getByRole('heading', { name: /Acme Inc\./ }).waitFor();
    await revokeAdminKey(tenantKeyID);
    allow(401);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.getByLabel('Admin key').waitFor();
    assert.match(await problem().innerText(), /Signed out[\s\S]*no longer accepts this admin key/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    allow();
  } catch (e) {
    await screenshot('failure').catch(() => {});
    throw e;
  }
});

test('a global key sees every tenant', async () => {
  try {
    await signIn(globalKey);
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    for (const slug of ['acme', 'nimbus', 'other']) await page.getByRole('link', { name: slug, exact: true }).waitFor();
    await page.getByLabel('Search by slug').fill('ac');
    await page.getByRole('link', { name: 'nimbus' }).waitFor({ state: 'detached' });
    await page.getByLabel('Search by slug').fill('');
    await page.getByRole('link', { name: 'nimbus' }).waitFor();
    await screenshot('tenants');

    // Create a tenant, then delete it: the slug must be typed again.
    const create = page.locator('form', { hasText: 'Create a tenant' });
    await create.getByLabel('Slug').fill('Bad Slug');
    await create.getByRole('button', { name: 'Create tenant' }).click();
    await create.locator('.field-error', { hasText: 'lowercase letters' }).waitFor();
    await create.getByLabel('Slug').fill('short-lived');
    await create.getByLabel('Name').fill('Short-lived Ltd');
    await create.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('heading', { name: /Short-lived Ltd/ }).waitFor();
    await page.getByRole('button', { name: 'Delete tenant' }).click();
    const dialog = page.locator('dialog.confirm[open]');
    await dialog.waitFor();
    const del = dialog.getByRole('button', { name: 'Delete tenant' });
    assert.ok(await del.isDisabled(), 'delete is disabled until the slug is typed');
    await dialog.getByLabel('Type short-lived to confirm').fill('short-live');
    assert.ok(await del.isDisabled());
    await dialog.getByLabel('Type short-lived to confirm').fill('short-lived');
    await screenshot('tenant-delete-confirm');
    await del.click();
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await page.getByRole('link', { name: 'acme', exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'short-lived' }).count(), 0);
    const gone = await fetch(`${jetonURL}/admin/v1/tenants/short-lived`, { headers: { Authorization: `Bearer ${globalKey}` } });
    assert.equal(gone.status, 404);

    // The global stream has the deletion; the global webhooks page lists the stream's endpoints.
    await page.getByRole('link', { name: 'Global events', exact: true }).click();
    await page.getByRole('heading', { name: 'Global events' }).waitFor();
    assert.match(await page.locator('tr[data-kind=tenant_deleted]').first().innerText(), /short-lived/);
    await screenshot('global-events');
    await page.getByRole('link', { name: 'Global webhooks', exact: true }).click();
    await page.getByRole('heading', { name: 'Global webhooks' }).waitFor();
    await page.getByText('No endpoint yet.').waitFor();

    // Events filtered by kind.
    await page.goto(`${jetonURL}/console/#/t/acme/events`);
    await page.locator('tr[data-kind=login_success]').waitFor();
    await page.getByLabel('Kind').selectOption('login_success');
    await page.locator('tr[data-kind=user_created]').waitFor({ state: 'detached' });
    assert.deepEqual(await page.locator('tbody tr').evaluateAll((rows) => [...new Set(rows.map((r) => r.dataset.kind))]), ['login_success']);

    // A global key may let a client forward its users' addresses; a tenant key sees no such box.
    await page.goto(`${jetonURL}/console/#/t/acme/clients`);
    await page.getByRole('link', { name: 'Acme web' }).click();
    await page.getByLabel(/Forwards its users' addresses/).check();
    await page.getByRole('button', { name: 'Save client' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const list = await (await fetch(`${jetonURL}/admin/v1/tenants/acme/clients`, { headers: { Authorization: `Bearer ${globalKey}` } })).json();
    assert.equal(list.items[0].forwards_user_ip, true);

    await page.getByRole('button', { name: 'Sign out' }).click();
  } catch (e) {
    await screenshot('failure').catch(() => {});
    throw e;
  }
});
