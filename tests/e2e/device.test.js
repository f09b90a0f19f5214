// `--device`: the device authorization grant (RFC 8628) end to end, the
// user code entered in Chromium at the project's OpenID provider while the
// command polls; then the polling's rules against a small stand-in
// provider: `authorization_pending` waits, `slow_down` adds five seconds,
// `expired_token` and `access_denied` end it with their own lines.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { test } from 'node:test';

import { CLIENT_ID, binary, freePort, launchBrowser, scratchDir, signIn, startProvider } from './support.js';

/** Run `oauth-callback ARGS` with a data folder of its own (removed when
 * test `t` ends); resolves once it printed the user code: the code, the
 * verification URI and its end. */
function startDevice(t, args) {
  const env = { ...process.env, XDG_DATA_HOME: scratchDir(t, 'device') };
  const child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  const exited = new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  const shown = new Promise((resolve) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /to sign in, open (\S+) and enter the code (\S+)/.exec(stderr);
      if (match) resolve({ uri: match[1], code: match[2] });
    });
    child.on('exit', () => resolve(null));
  });
  return { shown, finished: () => exited, kill: () => child.kill() };
}

test('token --device: the user code entered in Chromium at the provider; tokens cached; nothing listened', { timeout: 60_000 }, async (t) => {
  const port = await freePort();
  const provider = await startProvider(`https://127.0.0.1:${port}/callback`);
  t.after(() => provider.close());
  const run = startDevice(t, ['token', '--device', '--issuer', provider.issuer, '--client-id', CLIENT_ID, '--scope', 'openid email']);
  t.after(() => run.kill());
  const shown = await run.shown;
  if (!shown) assert.fail(`no user code was shown:\n${(await run.finished()).stderr}`);
  assert.equal(shown.uri, `${provider.issuer}/device`);
  const { browser, page } = await launchBrowser();
  t.after(() => browser.close());
  await page.goto(shown.uri);
  await page.fill('input[name=user_code]', shown.code);
  await page.click('button[type=submit]');
  await page.click('button[autofocus]'); // "Confirm Device": Continue
  await signIn(page);
  await page.waitForSelector('text=Sign-in Success');
  const result = await run.finished();
  assert.equal(result.code, 0, result.stderr);
  const tokens = JSON.parse(result.stdout);
  assert.equal(tokens.source, 'sign-in');
  assert.equal(tokens.id_token_claims.sub, 'alice');
  assert.equal(tokens.id_token_claims.aud, CLIENT_ID);
  assert.ok(!result.stderr.includes('listening on'), 'nothing listened');
  assert.equal(provider.counts.grants['urn:ietf:params:oauth:grant-type:device_code'], 1);
  const userinfo = await fetch(`${provider.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(userinfo.status, 200);
});

/** A plain OAuth provider with RFC 8414 metadata whose token endpoint
 * answers the device code polls with `answers` in turn (error codes, or
 * 'tokens'); `polls` has each poll's time. With `device: false`, no device
 * authorization endpoint. */
async function standIn(t, answers, { device = true } = {}) {
  const polls = [];
  const server = createServer((request, response) => {
    const json = (status, body) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (request.url === '/.well-known/oauth-authorization-server') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        ...(device ? { device_authorization_endpoint: `${issuer}/device/auth` } : {}),
      });
    }
    if (request.url === '/device/auth') {
      return json(200, { device_code: 'dc-1', user_code: 'WDJB-MJHT', verification_uri: `${issuer}/device`,
        expires_in: 600, interval: 1 });
    }
    if (request.url === '/token') {
      polls.push(Date.now());
      const answer = answers[Math.min(polls.length - 1, answers.length - 1)];
      if (answer === 'tokens') return json(200, { access_token: 'at-device', token_type: 'Bearer', expires_in: 60 });
      return json(400, { error: answer });
    }
    return json(404, {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { issuer, polls };
}

test('--device polls at the interval, waits on authorization_pending and adds 5 s on slow_down', { timeout: 60_000 }, async (t) => {
  const { issuer, polls } = await standIn(t, ['authorization_pending', 'slow_down', 'tokens']);
  const run = startDevice(t, ['sign-in', '--device', '--issuer', issuer, '--client-id', 'cli']);
  assert.ok(await run.shown);
  const result = await run.finished();
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).access_token, 'at-device');
  assert.equal(polls.length, 3);
  const gaps = [polls[1] - polls[0], polls[2] - polls[1]];
  assert.ok(gaps[0] >= 950, `one interval after authorization_pending: ${gaps}`);
  assert.ok(gaps[1] >= 5950, `six seconds after slow_down: ${gaps}`);
  assert.ok(gaps[1] - gaps[0] >= 4000, `slow_down added five seconds, authorization_pending none: ${gaps}`);
});

test('--device: expired_token and access_denied end it with their own lines (exit 77); no endpoint: exit 2', { timeout: 60_000 }, async (t) => {
  const expired = await standIn(t, ['authorization_pending', 'expired_token']);
  let result = await startDevice(t, ['sign-in', '--device', '--issuer', expired.issuer, '--client-id', 'cli']).finished();
  assert.equal(result.code, 77, result.stderr);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /oauth-callback: the device code expired before the sign-in was completed: start again\n$/);

  const denied = await standIn(t, ['access_denied']);
  result = await startDevice(t, ['sign-in', '--device', '--issuer', denied.issuer, '--client-id', 'cli']).finished();
  assert.equal(result.code, 77, result.stderr);
  assert.match(result.stderr, /oauth-callback: the sign-in was denied at the provider \(access_denied\)\n$/);

  const none = await standIn(t, [], { device: false });
  result = await startDevice(t, ['token', '--device', '--issuer', none.issuer, '--client-id', 'cli']).finished();
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, /the device flow was asked for, but the provider has no device_authorization_endpoint/);
});
