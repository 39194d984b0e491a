// Second factors, the password lifecycle and webhooks in the console, with a tenant key
// of its own, against what jeton does over HTTP: logins, the account API, deliveries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, confirm, globalKey, jetonURL, lifecycleKey, login, page, receiver, screenshot, signIn, token, web } from './harness.mjs';
import { signedBy, totp } from './receiver.mjs';

test('second factors, the password lifecycle and webhooks, with a tenant key', async () => {
  try {
    await signIn(lifecycleKey);
    await page.getByRole('heading', { name: /Acme Inc\./ }).waitFor();
    assert.equal(await page.getByRole('link', { name: /Global/ }).count(), 0, 'a tenant key has no global pages');

    // The second-factor policy and the password and throttle settings, then forbidden words.
    const settings = page.getByRole('form', { name: 'Tenant settings' });
    await settings.getByLabel('Second-factor policy').selectOption('optional');
    await settings.getByLabel('Password history').fill('');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.locator('.field-error', { hasText: 'a number is required' }).waitFor();
    await settings.getByLabel('Password history').fill('3');
    await settings.getByLabel('Failed logins per username per hour').fill('3');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await settings.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const words = page.getByRole('form', { name: 'Forbidden passwords' });
    await words.getByLabel('Forbidden words').fill('acmecorp\nabc');
    await words.getByRole('button', { name: 'Save words' }).click();
    await words.locator('.field-error', { hasText: 'abc: each word must be 4 to 64 characters' }).waitFor();
    await words.getByLabel('Forbidden words').fill('acmecorp\nRoadRunner');
    await words.getByRole('button', { name: 'Save words' }).click();
    await words.getByRole('status').filter({ hasText: 'Saved: 2 words.' }).waitFor();
    const acme = (await api('GET', '/admin/v1/tenants/acme', lifecycleKey)).body;
    assert.deepEqual([acme.mfa_policy, acme.password_history, acme.login_user_limit], ['optional', 3, 3]);
    assert.deepEqual((await api('GET', '/admin/v1/tenants/acme/forbidden-passwords', lifecycleKey)).body.words, ['acmecorp', 'roadrunner']);

    // Three wrong passwords from one address reach the username limit: the right one from
    // there is refused, until the console clears the throttles.
    assert.equal((await api('PATCH', `/admin/v1/tenants/acme/clients/${web.id}`, globalKey, { forwards_user_ip: true })).status, 200);
    const ip = '203.0.113.7';
    for (let i = 0; i < 3; i++) assert.equal((await login(web.id, web.secret, { pass: 'not the password at all', ip })).status, 400);
    assert.equal((await login(web.id, web.secret, { ip })).status, 429);
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByRole('link', { name: 'alice' }).click();
    const aliceID = decodeURIComponent(page.url().split('/').pop());
    const throttles = page.getByRole('region', { name: 'Login throttles' });
    const address = throttles.locator('tr', { hasText: ip });
    await address.waitFor();
    assert.match(await throttles.getByTestId('username-counter').innerText(), /Username: 3 failures[\s\S]*limit reached/);
    await screenshot('user-throttles');
    await throttles.getByRole('button', { name: 'Unblock: clear throttles' }).click();
    await confirm('Clear throttles', /counted afresh from anywhere/);
    await throttles.getByRole('status').filter({ hasText: 'Throttles cleared.' }).waitFor();
    await address.waitFor({ state: 'detached' });
    assert.equal(await throttles.getByTestId('username-counter').count(), 0);
    const { access_token: accountToken } = await token(web.id, web.secret, { ip, scope: 'read account' });

    // Alice enrols a TOTP factor through the account API; the console shows it and resets it.
    const started = await api('POST', '/account/v1/mfa/totp', accountToken);
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const confirmed = await api('POST', '/account/v1/mfa/totp/confirm', accountToken, new URLSearchParams({ otp: totp(started.body.secret) }));
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    await page.reload();
    const factors = page.getByRole('region', { name: 'Second factors' });
    await factors.getByTestId('factors').filter({ hasText: /TOTP: active · recovery codes left: 10/ }).waitFor();
    assert.match(await factors.innerText(), /policy is optional/);
    await screenshot('user-factors');
    await factors.getByRole('button', { name: 'Reset second factors' }).click();
    await confirm('Reset factors', /TOTP factor and her 10 unused recovery codes are removed/);
    await factors.getByTestId('factors').filter({ hasText: /TOTP: none · recovery codes left: 0/ }).waitFor();
    assert.deepEqual((await api('GET', `/admin/v1/tenants/acme/users/${aliceID}`, lifecycleKey)).body.mfa, { totp: false, recovery_codes_left: 0 });

    // A forced password change stops her tokens; lifted, they come again. Forced once more,
    // a reset token from the console sets a new password (not one with a forbidden word).
    const pw = page.getByRole('region', { name: 'Password change and reset' });
    const requireChange = async () => {
      await pw.getByRole('button', { name: 'Require a password change' }).click();
      await confirm('Require a change', /gets no tokens until she sets a new one/);
      await pw.getByTestId('change-required').filter({ hasText: 'must change it (admin)' }).waitFor();
    };
    await requireChange();
    const forced = await login(web.id, web.secret, { ip });
    assert.equal(forced.status, 403);
    assert.equal((await forced.json()).error, 'password_change_required');
    await pw.getByRole('button', { name: 'Lift the required change' }).click();
    await pw.getByText('No change required.').waitFor();
    await token(web.id, web.secret, { ip });
    await requireChange();
    await pw.getByRole('button', { name: 'Issue a reset token' }).click();
    await confirm('Issue reset token', /within 30m/);
    const resetToken = (await page.getByTestId('reset-token').innerText()).trim();
    assert.match(resetToken, /^jpr_[0-9A-Za-z]{49}$/);
    await screenshot('user-reset-token');
    const redeem = (newPassword) => fetch(`${jetonURL}/account/v1/password-reset`, {
      method: 'POST', body: new URLSearchParams({ reset_token: resetToken, new_password: newPassword }) });
    assert.equal((await redeem('acmecorp forever and ever')).status, 400);
    assert.equal((await redeem('a completely fresh passphrase')).status, 204);
    await token(web.id, web.secret, { ip, pass: 'a completely fresh passphrase' });
    await page.reload();
    await pw.getByText('No change required.').waitFor();

    // A webhook endpoint: checked, created with its secret shown once, then deliveries.
    await page.getByRole('link', { name: 'Webhooks', exact: true }).click();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    const create = page.getByRole('form', { name: 'Create a webhook' });
    await create.getByLabel('URL', { exact: true }).fill(receiver.url.replace('https:', 'http:'));
    await create.getByLabel('Description', { exact: true }).fill('SIEM');
    await create.getByRole('button', { name: 'Create endpoint' }).click();
    await create.locator('.field-error', { hasText: 'must be an https URL' }).waitFor();
    await create.locator('.field-error', { hasText: 'choose at least one event kind' }).waitFor();
    await create.getByLabel('URL', { exact: true }).fill(receiver.url);
    await create.getByLabel('user_created', { exact: true }).check();
    await create.getByLabel('mfa_reset', { exact: true }).check();
    await create.getByRole('button', { name: 'Create endpoint' }).click();
    const whsec = (await page.getByTestId('webhook-secret').innerText()).trim();
    assert.match(whsec, /^whsec_[A-Za-z0-9+/]{43}=$/);
    await page.getByRole('cell', { name: receiver.url }).waitFor();
    await screenshot('webhook-created');

    const bob = await api('POST', '/admin/v1/tenants/acme/users', lifecycleKey, { username: 'bob', password: 'bobs own long passphrase' });
    assert.equal(bob.status, 201, JSON.stringify(bob.body));
    const delivery = await receiver.waitFor((d) => d.json.type === 'user_created' && d.json.data.subject?.name === 'bob', "bob's user_created");
    assert.ok(signedBy(whsec, delivery), 'signed with the secret the console showed');
    await page.getByRole('link', { name: 'Open the endpoint' }).click();
    await page.getByRole('heading', { name: receiver.url }).waitFor();
    const log = page.getByRole('region', { name: 'Delivery log' });
    const delivered = log.locator(`tr[data-event="${delivery.id}"][data-state=delivered]`);
    await delivered.waitFor();

    const test = page.getByRole('region', { name: 'Test delivery' });
    await test.getByRole('button', { name: 'Send a test delivery' }).click();
    await test.getByTestId('test-result').filter({ hasText: /^Delivered: HTTP 204/ }).waitFor();
    const tested = await receiver.waitFor((d) => d.id.startsWith('test_'), 'the test delivery');
    assert.equal(tested.json.type, 'webhook.test');
    assert.ok(signedBy(whsec, tested));

    await delivered.getByRole('button', { name: 'Redeliver' }).click();
    await log.getByRole('status').filter({ hasText: `Event ${delivery.id} queued again` }).waitFor();
    await receiver.waitFor((d) => d.id === delivery.id && d !== delivery, 'the redelivery');
    await delivered.waitFor();
    await screenshot('webhook');

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await confirm('Rotate secret', /keeps signing beside it for 24 hours/);
    const rotated = (await page.getByTestId('webhook-secret').innerText()).trim();
    assert.notEqual(rotated, whsec);
    await page.getByText(/The previous one also signs until/).waitFor();
    await test.getByRole('button', { name: 'Send a test delivery' }).click();
    const retested = await receiver.waitFor((d) => d.id.startsWith('test_') && d !== tested, 'the test after rotation');
    assert.ok(signedBy(rotated, retested) && signedBy(whsec, retested), 'signed by the new secret and the previous one');

    const edit = page.getByRole('form', { name: 'Endpoint settings' });
    await edit.getByLabel('Description', { exact: true }).fill('SIEM (EU)');
    await edit.getByLabel('Every event (*)').check();
    await edit.getByRole('button', { name: 'Save endpoint' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const hooks = (await api('GET', '/admin/v1/tenants/acme/webhooks', lifecycleKey)).body.items;
    assert.deepEqual(hooks.map((w) => [w.description, w.events]), [['SIEM (EU)', ['*']]]);

    await page.getByRole('button', { name: 'Disable endpoint' }).click();
    await confirm('Disable endpoint', /What is queued waits/);
    await page.getByRole('heading', { name: receiver.url }).locator('.badge.off').waitFor();
    await page.getByRole('button', { name: 'Enable endpoint' }).click();
    await page.getByRole('heading', { name: receiver.url }).locator('.badge.on').waitFor();
    await page.getByRole('button', { name: 'Delete endpoint' }).click();
    await confirm('Delete endpoint', /with its queue and its delivery log/);
    await page.getByText('No endpoint yet.').waitFor();
    assert.deepEqual((await api('GET', '/admin/v1/tenants/acme/webhooks', lifecycleKey)).body.items, []);

    // The new kinds are in the events filter.
    await page.getByRole('link', { name: 'Events', exact: true }).click();
    await page.getByLabel('Kind').selectOption('user_throttles_cleared');
    await page.locator('tr[data-kind=user_throttles_cleared]').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
  } catch (e) {
    await screenshot('failure').catch(() => {});
    throw e;
  }
});
