// `oauth-callback trust` as a user's browser sees it: Chromium, checking
// certificates against its NSS database (in a temporary HOME), loads the
// callback without a warning once the local CA is trusted, on every loopback
// name, with the default flags and with --adhoc-ssl; and refuses it again
// after `trust --uninstall`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { binary, launchBrowser, scratchDir, startCallback } from './support.js';

const SUCCESS = 'Credentials received successfully. You may close this window.';

/** A HOME of its own: the CA, the NSS database and the browser's profile. */
function temporaryHome(t) {
  const home = scratchDir(t, 'trust');
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

  // Leaves made with the stored intermediate key (what a thief could make):
  // for a loopback address plus another name, or for another purpose than
  // TLS servers, Chromium refuses them even on 127.0.0.1.
  const ca = join(home, '.local/share/oauth-callback/ca');
  for (const [name, extensions] of [
    ['another name beside the loopback one', 'subjectAltName=IP:127.0.0.1,DNS:example.com\nextendedKeyUsage=serverAuth'],
    ['another address beside the loopback one', 'subjectAltName=IP:127.0.0.1,IP:192.0.2.1\nextendedKeyUsage=serverAuth'],
    ['client authentication only', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=clientAuth'],
  ]) {
    const [key, csr, leaf, ext, chain] = ['key', 'csr', 'pem', 'ext', 'chain'].map((e) => join(home, `forged.${e}`));
    for (const args of [
      ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=forged',
        '-keyout', key, '-out', csr],
      ['x509', '-req', '-days', '1', '-in', csr, '-CA', join(ca, 'intermediate.pem'), '-CAkey',
        join(ca, 'intermediate.key'), '-extfile', ext, '-out', leaf],
    ]) {
      if (args[0] === 'x509') writeFileSync(ext, extensions);
      const made = spawnSync('openssl', args, { encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
    }
    writeFileSync(chain, readFileSync(leaf, 'utf8') + readFileSync(join(ca, 'intermediate.pem'), 'utf8'));
    const forged = await startCallback(['--ssl-cert', chain, '--ssl-key', key, '--timeout', '30'], { env });
    t.after(() => forged.kill());
    await assert.rejects(page.goto(`${forged.redirectUri}?code=forged`), /ERR_CERT_/, name);
    forged.kill();
  }

  trust(env, '--uninstall');
  assert.match(trust(env, '--status'), /local CA: none/);
  const callback = await startCallback(['--timeout', '30'], { env });
  t.after(() => callback.kill());
  const fresh = await launchBrowser({ verify: true, env });
  t.after(() => fresh.browser.close());
  await assert.rejects(fresh.page.goto(`${callback.redirectUri}?code=refused`), /ERR_CERT_AUTHORITY_INVALID/);
});
