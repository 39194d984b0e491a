// The admin console, end to end, as an admin would use it: a real jeton (built with the
// console's assets) on a fresh PostgreSQL database, driven in Debian's headless Chromium.
// Run it with `make test-console` after `make deps`. It needs Go, PostgreSQL (the server of
// TEST_DATABASE_URL, else postgres@127.0.0.1:5432) and psql. Screenshots go to
// SCREENSHOT_DIR (make test-console: docs/console). test/harness.mjs starts and stops what
// the tests use; the tests run in the order of the imports, this file's last.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consoleErrors, context, jetonURL, page, pageErrors } from './harness.mjs';
import './pages.mjs';
import './lifecycle.mjs';

test('no CSP violation, page error or console error during the run', async () => {
  assert.deepEqual(await page.evaluate(() => window.__csp), []);
  // The control: an inline style is refused and reported, on a page of its own.
  const control = await context.newPage();
  await control.goto(`${jetonURL}/console/`);
  await control.getByLabel('Admin key').waitFor();
  await control.evaluate(() => {
    const s = document.createElement('style');
    s.textContent = 'body { background: red }';
    document.head.append(s);
  });
  await control.waitForFunction(() => window.__csp.length > 0);
  assert.match((await control.evaluate(() => window.__csp)).join(), /style-src/);
  await control.close();
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(consoleErrors, []);
});
