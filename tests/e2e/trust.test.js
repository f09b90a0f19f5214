// `oauth-callback trust` as a user's browser sees it: Chromium, checking
// certificates against its NSS database (in a temporary HOME), loads the
// callback without a warning once the local CA is trusted, on every loopback
// name, with the default flags and with --adhoc-ssl; and refuses it again
// after `trust --uninstall`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { binary, launchBrowser, startCallback } from './support.js';

const SUCCESS = 'Credentials received successfully. You may close this window.';

/** A HOME of its own: the CA, the NSS database and the browser's profile. */
function temporaryHome(t) {
  const home = mkdtempSync(join(tmpdir(), 'oauth-callback-trust-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = { ...process.env, HOME: home };
  delete env.XDG_DATA_HOME;
  return { home, env };
}

/** `oauth-callback trust ARGS` in `env`; its output. */
function trust(env, ...args) {
  const run = spawnSync(binary, ['trust', ...args], { env, encoding: 'utf8' });
  assert.equal(run.status, 0, `trust ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

/** Every file under `dir`. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((path) => statSync(path).isFile());
}

test('after trust, Chromium loads the callback with no certificate warning; after --uninstall it refuses it', async (t) => {
  const { home, env } = temporaryHome(t);
  assert.match(trust(env), /Chrome\/Chromium \(.*\): trusted/);
  assert.match(trust(env), /Chrome\/Chromium \(.*\): already trusted/, 'a second run changes nothing');
  assert.match(trust(env, '--status'), /Chrome\/Chromium \(.*\): trusted/);

  const exported = join(home, 'exported-root.pem');
  assert.match(trust(env, '--export', exported), /public root/);
  assert.equal(readFileSync(exported, 'utf8'),
    readFileSync(join(home, '.local/share/oauth-callback/ca/root.pem'), 'utf8'));
  assert.ok(!readFileSync(exported, 'utf8').includes('PRIVATE KEY'));

  const keys = filesUnder(home).filter((path) => readFileSync(path).includes('PRIVATE KEY'));
  assert.deepEqual(keys.map((path) => path.slice(home.length)), ['/.local/share/oauth-callback/ca/intermediate.key'],
    'the only private key on disk is the intermediate\'s');

  const { browser, page } = await launchBrowser({ verify: true, env });
  t.after(() => browser.close());
  for (const [flags, host] of [
    [[], '127.0.0.1'], [['--host', 'localhost'], 'localhost'], [['--host', '::1'], '[::1]'],
    [['--adhoc-ssl'], '127.0.0.1'],
  ]) {
    const callback = await startCallback([...flags, '--timeout', '30'], { env });
    const port = new URL(callback.redirectUri).port;
    const response = await page.goto(`https://${host}:${port}/callback?code=trusted`);
    assert.equal(response.status(), 200, `${flags.join(' ')} ${host}`);
    await page.waitForSelector(`text=${SUCCESS}`);
    const { code, json } = await callback.finished();
    assert.equal(code, 0);
    assert.deepEqual(json.params, { code: 'trusted' });
  }

  trust(env, '--uninstall');
  assert.match(trust(env, '--status'), /local CA: none/);
  const callback = await startCallback(['--timeout', '30'], { env });
  t.after(() => callback.kill());
  const fresh = await launchBrowser({ verify: true, env });
  t.after(() => fresh.browser.close());
  await assert.rejects(fresh.page.goto(`${callback.redirectUri}?code=refused`), /ERR_CERT_AUTHORITY_INVALID/);
});
