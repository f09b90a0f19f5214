// What real Chromium does with the callback's URL: a state in the query and
// tokens in the fragment, a fragment that contradicts the query, a redirect
// target that must not inherit the callback's fragment, and idle
// connections (a browser's, or anyone's) that must not hold the exit, and a
// prerender of the callback (speculation rules) that must not complete it.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';

import { launchBrowser, secrets, startCallback } from './support.js';

const SUCCESS = 'Credentials received successfully. You may close this window.';

/** Start oauth-callback and a browser for one test; both stopped after it. */
async function setUp(t, args = []) {
  const callback = await startCallback(args);
  const { browser, page } = await launchBrowser();
  t.after(async () => {
    callback.kill();
    await browser.close();
  });
  return { callback, page };
}

/** Whether the process is still running `ms` after now. */
async function stillRunningAfter(callback, ms) {
  let timer;
  const outcome = await Promise.race([
    callback.finished().then((result) => ({ exited: result })),
    new Promise((resolve) => { timer = setTimeout(() => resolve('running'), ms); }),
  ]);
  clearTimeout(timer);
  return outcome;
}

/** The next POST to the callback, as the browser saw its answer. */
function nextPost(page, redirectUri) {
  return page.waitForResponse((response) => response.request().method() === 'POST'
    && response.url().startsWith(redirectUri), { timeout: 10_000 });
}

test('state in the query, tokens in the fragment: the bridge posts both and --expect-state is met', async (t) => {
  const { state } = secrets();
  const { callback, page } = await setUp(t, ['--expect-state', state]);
  assert.match(callback.redirectUri, /^https:\/\//);
  const posted = nextPost(page, callback.redirectUri);
  await page.goto(`${callback.redirectUri}?state=${state}#access_token=T1&token_type=Bearer`);
  assert.equal((await posted).status(), 200);
  await page.waitForSelector(`text=${SUCCESS}`);
  assert.ok(!page.url().includes('access_token'), `the token is still in the address bar: ${page.url()}`);
  assert.ok(!page.url().includes('#'), page.url());

  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.method, 'POST');
  assert.equal(json.path, '/callback');
  assert.deepEqual(json.params, { state, access_token: 'T1', token_type: 'Bearer' });
});

test('a fragment contradicting the query is refused (400) and the wait goes on; then a consistent one completes', async (t) => {
  const { state } = secrets();
  const { callback, page } = await setUp(t, ['--expect-state', state]);

  // The fragment names another state than the query.
  let posted = nextPost(page, callback.redirectUri);
  await page.goto(`${callback.redirectUri}?state=${state}#state=OTHER&access_token=T1`);
  assert.equal((await posted).status(), 400);
  assert.equal(await stillRunningAfter(callback, 1000), 'running');

  // The other way round: the expected state in the fragment does not
  // override a wrong one in the query (later keys win elsewhere, not here).
  await page.goto('about:blank');
  posted = nextPost(page, callback.redirectUri);
  await page.goto(`${callback.redirectUri}?state=OTHER#state=${state}&access_token=T1`);
  assert.equal((await posted).status(), 400);
  assert.equal(await stillRunningAfter(callback, 1000), 'running');

  // (about:blank first: the same address with another fragment would be a
  // same-document navigation, and the bridge would not run again.)
  await page.goto('about:blank');
  posted = nextPost(page, callback.redirectUri);
  await page.goto(`${callback.redirectUri}?state=${state}#access_token=T1&token_type=Bearer`);
  assert.equal((await posted).status(), 200);
  await page.waitForSelector(`text=${SUCCESS}`);
  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.method, 'POST');
  assert.deepEqual(json.params, { state, access_token: 'T1', token_type: 'Bearer' });
});

/**
 * The application's landing page on 127.0.0.1: it shows `location.hash` as
 * `hash=[...]` in `#hash` (made by the script, so it exists only once
 * filled) and records every path asked for.
 */
async function hashLanding(t) {
  const landed = [];
  const server = createServer((request, response) => {
    landed.push(request.url);
    response.setHeader('content-type', 'text/html; charset=utf-8');
    response.end('<!doctype html><title>Landing</title><body><script>'
      + 'var p = document.createElement("p"); p.id = "hash";'
      + 'p.textContent = "hash=[" + location.hash + "]"; document.body.append(p);'
      + '</script></body>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { landed, base, landing: `${base}/landing` };
}

/** What the landing page shows, once the browser is there. */
async function shownHash(page, base) {
  await page.waitForURL((url) => url.href.startsWith(base), { timeout: 10_000 });
  const p = await page.waitForSelector('#hash', { timeout: 10_000 });
  return p.textContent();
}

test('a redirect target never sees the callback\'s fragment: 303 after a code in the query', async (t) => {
  const { landed, base, landing } = await hashLanding(t);
  const { callback, page } = await setUp(t, ['--success-redirect', landing]);
  await page.goto(`${callback.redirectUri}?code=abc#access_token=leak`);
  const shown = await shownHash(page, base);
  assert.ok(!shown.includes('leak'), `the landing page saw the callback's fragment: ${shown}`);
  assert.equal(shown, 'hash=[]');
  assert.ok(!page.url().includes('leak'), page.url());
  assert.deepEqual(landed.filter((path) => path !== '/favicon.ico'), ['/landing']);

  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.method, 'GET');
  assert.deepEqual(json.params, { code: 'abc' });
});

test('a redirect target never sees the callback\'s fragment: the target\'s own fragment is kept', async (t) => {
  const { base, landing } = await hashLanding(t);
  const { callback, page } = await setUp(t, ['--success-redirect', `${landing}#/done`]);
  await page.goto(`${callback.redirectUri}?code=abc#access_token=leak`);
  assert.equal(await shownHash(page, base), 'hash=[#/done]');

  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.deepEqual(json.params, { code: 'abc' });
});

test('a redirect target never sees the callback\'s fragment: after the fragment bridge', async (t) => {
  const { landed, base, landing } = await hashLanding(t);
  const { callback, page } = await setUp(t, ['--success-redirect', landing]);
  await page.goto(`${callback.redirectUri}#access_token=T2&token_type=Bearer`);
  const shown = await shownHash(page, base);
  assert.ok(!shown.includes('T2'), `the landing page saw the tokens: ${shown}`);
  assert.equal(shown, 'hash=[]');
  assert.deepEqual(landed.filter((path) => path !== '/favicon.ico'), ['/landing']);

  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.equal(json.method, 'POST');
  assert.equal(json.params.access_token, 'T2');
  assert.equal(json.params.token_type, 'Bearer');
});

/**
 * Two connections to `port` that send nothing: a plain TCP one, and a TLS
 * one whose handshake is done. Resolves once both are established; closed
 * after the test.
 */
async function idleConnections(t, port) {
  const tcp = tcpConnect({ port, host: '127.0.0.1' });
  const tls = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false });
  const sockets = [tcp, tls];
  const closed = sockets.map((socket) => new Promise((resolve) => socket.on('close', resolve)));
  for (const socket of sockets) socket.on('error', () => {}); // a reset at the server's exit is fine
  t.after(() => { for (const socket of sockets) socket.destroy(); });
  await Promise.all([
    new Promise((resolve, reject) => { tcp.once('connect', resolve); tcp.once('error', reject); }),
    new Promise((resolve, reject) => { tls.once('secureConnect', resolve); tls.once('error', reject); }),
  ]);
  return { closed: Promise.all(closed) };
}

test('idle connections do not hold the exit: after the success page', async (t) => {
  const { callback, page } = await setUp(t);
  const port = Number(new URL(callback.redirectUri).port);
  const idle = await idleConnections(t, port);
  const exited = callback.finished().then((result) => ({ ...result, at: performance.now() }));

  let answeredAt = null;
  page.on('response', (response) => {
    if (answeredAt === null && response.url().startsWith(`${callback.redirectUri}?`) && response.status() === 200) {
      answeredAt = performance.now();
    }
  });
  await page.goto(`${callback.redirectUri}?code=abc`);
  await page.waitForSelector(`text=${SUCCESS}`);
  const { code, json, at } = await exited;
  assert.ok(answeredAt !== null, 'no answer to the callback seen');
  const ms = Math.round(at - answeredAt);
  console.log(`exit ${ms} ms after the success page, with an idle TCP and an idle TLS connection open`);
  assert.equal(code, 0);
  assert.deepEqual(json.params, { code: 'abc' });
  assert.ok(ms < 1000, `exit ${ms} ms after the success page`);
  await idle.closed; // the exit closed them
});

test('idle connections do not hold the exit: --timeout 2 with no callback', async (t) => {
  const started = performance.now();
  const callback = await startCallback(['--timeout', '2']);
  t.after(() => callback.kill());
  const listening = Math.round(performance.now() - started);
  const port = Number(new URL(callback.redirectUri).port);
  const idle = await idleConnections(t, port);
  const { code, stdout } = await callback.finished();
  const ms = Math.round(performance.now() - started);
  console.log(`exit ${ms} ms after the start with --timeout 2 (listening after ${listening} ms), `
    + 'with an idle TCP and an idle TLS connection open');
  assert.equal(code, 124);
  assert.equal(stdout, '');
  assert.ok(ms >= 2000, `exit ${ms} ms after the start, before the timeout`);
  assert.ok(ms < 3000, `exit ${ms} ms after the start`);
  await idle.closed;
});

/** A page on another origin of this machine whose speculation rules ask the
 * browser to `kind` (prerender, prefetch) `url`, with a link to it. */
async function speculatingPage(t, kind, url) {
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(`<script type="speculationrules">{"${kind}":[{"source":"list","urls":["${url}"]}]}</script>`
      + `<a id="go" href="${url}">sign in</a>`);
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.on('listening', resolve));
  t.after(() => server.close());
  return `http://127.0.0.1:${server.address().port}/`;
}

test('a callback prerendered through speculation rules completes once, by the real navigation, with its page shown', async (t) => {
  // First, that this Chromium does speculate here: a stand-in target sees
  // the prerender's request before the link is followed.
  const seen = [];
  const probe = createServer((request, response) => {
    seen.push(request.headers['sec-purpose'] ?? 'navigation');
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<p>probe</p>');
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.on('listening', resolve));
  t.after(() => probe.close());
  const { browser, page } = await launchBrowser();
  t.after(() => browser.close());
  await page.goto(await speculatingPage(t, 'prerender', `http://127.0.0.1:${probe.address().port}/cb`));
  for (let waited = 0; !seen.length && waited < 5000; waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual(seen, ['prefetch;prerender'], 'Chromium prerendered the link');

  const callback = await startCallback(['--no-https']);
  t.after(() => callback.kill());
  await page.goto(await speculatingPage(t, 'prerender', `${callback.redirectUri}?code=pre`));
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the prerender is refused meanwhile
  assert.equal(await stillRunningAfter(callback, 0), 'running', 'the prerender did not complete the flow');
  await page.click('#go');
  await page.waitForSelector(`text=${SUCCESS}`);
  const { code, json } = await callback.finished();
  assert.equal(code, 0);
  assert.deepEqual(json.params, { code: 'pre' });
});
