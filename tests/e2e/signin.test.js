// End-to-end sign-ins: the real oauth-callback binary, a certified OpenID
// provider (oidc-provider) and headless Chromium, all on 127.0.0.1.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { CLIENT_ID, authorizationUrl, exchangeCode, freePort, launchBrowser, scratchDir, screenshot, secrets, signIn, startCallback, startExample, startProvider } from './support.js';

const SUCCESS = 'Credentials received successfully. You may close this window.';
const ERROR = 'Authentication could not be completed. Close this window and try again.';

/** Start callback, provider and browser for one test; all stopped after it. */
async function setUp(t, args = []) {
  const callback = await startCallback(args);
  const provider = await startProvider(callback.redirectUri);
  const { browser, page } = await launchBrowser();
  t.after(async () => {
    callback.kill();
    await browser.close();
    await provider.close();
  });
  return { callback, provider, page };
}

/** Check the printed result of a code flow and redeem the code with PKCE. */
async function assertCodeArrived(callback, provider, s, method) {
  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.method, method);
  assert.equal(json.params.state, s.state);
  assert.equal(json.params.iss, provider.issuer);
  const tokens = await exchangeCode(provider.issuer, callback.redirectUri, json.params.code, s.verifier);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.ok(tokens.body.access_token && tokens.body.id_token);
}

/** The code flow's authorization parameters, with PKCE. */
const codeFlow = (s, extra = {}) => ({
  response_type: 'code', state: s.state, code_challenge: s.challenge, code_challenge_method: 'S256', ...extra,
});

test('authorization code in the query, ad hoc HTTPS, then a PKCE code exchange', async (t) => {
  const { callback, provider, page } = await setUp(t, ['--adhoc-ssl']);
  assert.match(callback.redirectUri, /^https:\/\/127\.0\.0\.1:\d+\/callback$/);
  const s = secrets();
  await page.goto(authorizationUrl(provider.issuer, callback.redirectUri, codeFlow(s)));
  await signIn(page);
  await page.waitForSelector(`text=${SUCCESS}`);
  // The page takes the code out of the address bar and history.
  await page.waitForFunction(() => !window.location.search);
  assert.equal(page.url(), callback.redirectUri);
  await screenshot(page, 'success');
  await assertCodeArrived(callback, provider, s, 'GET');
});

test('response_mode=form_post: the provider posts the form to the callback', async (t) => {
  const { callback, provider, page } = await setUp(t);
  const s = secrets();
  await page.goto(authorizationUrl(provider.issuer, callback.redirectUri, codeFlow(s, { response_mode: 'form_post' })));
  await signIn(page);
  await page.waitForSelector(`text=${SUCCESS}`);
  await assertCodeArrived(callback, provider, s, 'POST');
});

test('implicit id_token token: the bridge posts the fragment and clears the address bar', async (t) => {
  const { callback, provider, page } = await setUp(t);
  const s = secrets();
  await page.goto(authorizationUrl(provider.issuer, callback.redirectUri, {
    response_type: 'id_token token', state: s.state, nonce: s.nonce,
  }));
  await signIn(page);
  await page.waitForSelector(`text=${SUCCESS}`);
  assert.ok(!page.url().includes('#'), `the fragment is still in the address bar: ${page.url()}`);
  assert.ok(!page.url().includes('access_token'));

  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.method, 'POST');
  assert.equal(json.params.state, s.state);
  assert.ok(json.params.access_token && json.params.id_token);
});

test('the user cancels: the error page shows and the error is printed, exit 0', async (t) => {
  const { callback, provider, page } = await setUp(t);
  const s = secrets();
  await page.goto(authorizationUrl(provider.issuer, callback.redirectUri, codeFlow(s)));
  await page.click('text=[ Cancel ]');
  await page.waitForSelector(`text=${ERROR}`);
  // What the provider said, and what to do about it.
  const details = await page.textContent('.details');
  assert.match(details, /^The provider said access_denied/, details);
  assert.match(await page.textContent('main'), /Start the sign-in again/);
  await screenshot(page, 'error');

  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.params.error, 'access_denied');
  assert.equal(json.params.state, s.state);
});

test('--expect-state and --expect-issuer: a tampered replay gets 400, the real callback completes', async (t) => {
  const s = secrets();
  // The issuer is known once the provider listens, the redirect URI once the
  // port is chosen: choose the port first.
  const port = await freePort();
  const redirectUri = `https://127.0.0.1:${port}/callback`;
  const provider = await startProvider(redirectUri);
  t.after(() => provider.close());
  const { browser, page } = await launchBrowser();
  t.after(() => browser.close());

  // Capture the real callback URL: the provider redirects before anything
  // listens, so the browser's attempt fails and the code stays unused.
  let callbackUrl = null;
  page.on('requestfailed', (request) => {
    if (request.url().startsWith(`${redirectUri}?`)) callbackUrl = request.url();
  });
  await page.goto(authorizationUrl(provider.issuer, redirectUri, codeFlow(s)));
  await signIn(page).catch(() => {});
  for (let i = 0; i < 100 && !callbackUrl; i += 1) await page.waitForTimeout(50);
  assert.ok(callbackUrl, 'the provider never redirected to the callback');

  const callback = await startCallback(['--expect-state', s.state, '--expect-issuer', provider.issuer], { port });
  t.after(() => callback.kill());
  // A fresh tab: the first one may still be showing its failed navigation.
  const replay = await page.context().newPage();
  const tampered = new URL(callbackUrl);
  tampered.searchParams.set('state', 'forged');
  const refused = await replay.goto(tampered.href);
  assert.equal(refused.status(), 400);
  assert.ok((await replay.textContent('body')).includes('could not be verified'));
  await screenshot(replay, 'rejected');

  const accepted = await replay.goto(callbackUrl);
  assert.equal(accepted.status(), 200);
  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.params.state, s.state);
  assert.equal(json.params.iss, provider.issuer);
  const tokens = await exchangeCode(provider.issuer, redirectUri, json.params.code, s.verifier);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
});

test('custom pages and a PEM certificate', async (t) => {
  const dir = scratchDir(t, 'e2e');
  const [cert, key, success, error] = ['cert.pem', 'key.pem', 'success.html', 'error.html'].map((f) => join(dir, f));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  writeFileSync(success, '<!doctype html><title>Acme</title><style>h1{color:green}</style><h1>Acme: you are in</h1>');
  writeFileSync(error, '<!doctype html><title>Acme</title><h1>Acme: no luck</h1>');
  const { callback, provider, page } = await setUp(t, [
    '--ssl-cert', cert, '--ssl-key', key, '--success-html', success, '--error-html', error,
  ]);
  const s = secrets();
  await page.goto(authorizationUrl(provider.issuer, callback.redirectUri, codeFlow(s)));
  await signIn(page);
  await page.waitForSelector('text=Acme: you are in');
  const color = await page.$eval('h1', (h1) => getComputedStyle(h1).color);
  assert.equal(color, 'rgb(0, 128, 0)', 'the custom page\'s inline style is allowed by its hash');
  await screenshot(page, 'custom-success');
  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.params.state, s.state);
});

test('the bridge page without a fragment explains itself', async (t) => {
  const callback = await startCallback();
  t.after(() => callback.kill());
  const { browser, page } = await launchBrowser();
  t.after(() => browser.close());
  await page.goto(callback.redirectUri);
  await page.waitForSelector('text=there was none');
  assert.equal(await page.textContent('h1'), 'Nothing to complete');
  await screenshot(page, 'bridge-empty');
});

test('an async Rust program signs in with the oauth2 crate (PKCE, code exchange) through AsyncCallbackServer', async (t) => {
  // The provider registers exact redirect URIs: give the example its port.
  const port = await freePort();
  const provider = await startProvider(`https://127.0.0.1:${port}/callback`);
  const { browser, page } = await launchBrowser();
  const example = await startExample('oauth2_signin',
    [`${provider.issuer}/auth`, `${provider.issuer}/token`, CLIENT_ID, String(port)],
    { OAUTH2_SIGNIN_NO_BROWSER: '1' });
  t.after(async () => {
    example.kill();
    await browser.close();
    await provider.close();
  });
  await page.goto(example.url);
  await signIn(page);
  await page.waitForSelector(`text=${SUCCESS}`);
  const { code, stdout, stderr } = await example.finished();
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^signed in: bearer token$/im, stdout);
});

/** A page standing for the application's own; it records every visit. */
async function landingPage(t) {
  const landed = [];
  const target = createServer((request, response) => {
    landed.push({ url: request.url, referer: request.headers.referer ?? null });
    response.end('<!doctype html><title>Back in the app</title><h1>Back in the app</h1>');
  });
  await new Promise((resolve) => target.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => target.close(resolve)));
  return { landed, landing: `http://127.0.0.1:${target.address().port}/signed-in` };
}

test('--success-redirect lands the browser on the target, with no code in its URL or Referer', async (t) => {
  const { landed, landing } = await landingPage(t);
  const { callback, provider, page } = await setUp(t, ['--success-redirect', landing]);
  const s = secrets();
  await page.goto(authorizationUrl(provider.issuer, callback.redirectUri, codeFlow(s)));
  await signIn(page);
  await page.waitForSelector('text=Back in the app');
  // An explicit empty fragment: the callback's own never follows (RFC 9110 10.2.2).
  assert.equal(page.url(), `${landing}#`);
  // (The browser may also ask the target for its favicon.)
  assert.deepEqual(landed.filter((hit) => hit.url !== '/favicon.ico'), [{ url: '/signed-in', referer: null }]);
  await assertCodeArrived(callback, provider, s, 'GET');
});

test('--success-redirect after the fragment bridge: the bridge page sends the browser on', async (t) => {
  const { landed, landing } = await landingPage(t);
  const { callback, provider, page } = await setUp(t, ['--success-redirect', landing]);
  const s = secrets();
  await page.goto(authorizationUrl(provider.issuer, callback.redirectUri, {
    response_type: 'id_token token', state: s.state, nonce: s.nonce,
  }));
  await signIn(page);
  await page.waitForSelector('text=Back in the app');
  // An explicit empty fragment: the callback's own never follows (RFC 9110 10.2.2).
  assert.equal(page.url(), `${landing}#`);
  assert.deepEqual(landed.filter((hit) => hit.url !== '/favicon.ico'), [{ url: '/signed-in', referer: null }]);
  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.method, 'POST');
  assert.ok(json.params.access_token && json.params.id_token);
});

test('paste-back: the browser cannot reach the callback, and the address it ended at is pasted', async (t) => {
  // As over SSH without a forwarded port: the registered redirect URI's port
  // is not reachable from the browser, whose navigation there fails; the
  // user copies the address it ended at into the terminal.
  const unreachable = `https://127.0.0.1:${await freePort()}/callback`;
  const { callback, provider, page } = await setUp(t, ['--paste', '--redirect-uri', unreachable]);
  assert.equal(callback.redirectUri, unreachable);
  const ended = new Promise((resolve) => {
    page.on('requestfailed', (request) => {
      if (request.url().startsWith(`${unreachable}?`)) resolve(request.url());
    });
  });
  const s = secrets();
  await page.goto(authorizationUrl(provider.issuer, callback.redirectUri, codeFlow(s)));
  await signIn(page).catch(() => {}); // the last click ends on a failed navigation
  callback.paste(await ended);
  await assertCodeArrived(callback, provider, s, 'GET');
});
