// `oauth-callback sign-in` end to end: a certified OpenID provider
// (oidc-provider) and headless Chromium on 127.0.0.1, the printed tokens
// used at the provider's userinfo endpoint; then every refusal the sign-in
// owes, against a small stand-in provider that misbehaves on purpose.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer, get as httpGet } from 'node:http';
import { readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import * as jose from 'jose';

import { CLIENT_ID, binary, freePort, launchBrowser, scratchDir, signIn, startExample, startProvider, startSignIn } from './support.js';

const SUCCESS = 'Credentials received successfully. You may close this window.';

/** The sign-in with `args` against `issuer`'s pages in Chromium; its end. */
async function signInWithBrowser(t, args, { env = process.env } = {}) {
  const run = await startSignIn(args, { env });
  t.after(() => run.kill());
  if (!run.url) assert.fail(`no address to open was printed:\n${(await run.finished()).stderr}`);
  const { browser, page } = await launchBrowser();
  t.after(() => browser.close());
  await page.goto(run.url);
  await signIn(page);
  await page.waitForSelector(`text=${SUCCESS}`);
  return { run, url: run.url, result: await run.finished() };
}

/** A provider, the receiver's port and its redirect URI, stopped after `t`. */
async function provided(t, options = {}) {
  const port = await freePort();
  const redirectUri = `https://127.0.0.1:${port}/callback`;
  const provider = await startProvider(redirectUri, options);
  t.after(() => provider.close());
  return { provider, port };
}

test('sign-in: discovery, PKCE, the exchange and a verified ID token; the token works at userinfo', async (t) => {
  const { provider, port } = await provided(t);
  const { url, result } = await signInWithBrowser(t, [
    '--issuer', provider.issuer, '--client-id', CLIENT_ID, '--port', String(port), '--scope', 'openid email',
  ]);
  const browserUrl = new URL(url);
  assert.equal(browserUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(browserUrl.searchParams.get('state').length, 43);
  assert.equal(browserUrl.searchParams.get('nonce').length, 43);
  assert.equal(result.code, 0, result.stderr);
  const tokens = result.json;
  assert.equal(tokens.token_type, 'Bearer');
  assert.equal(tokens.issuer, provider.issuer);
  assert.equal(tokens.id_token_claims.iss, provider.issuer);
  assert.equal(tokens.id_token_claims.aud, CLIENT_ID);
  assert.equal(tokens.id_token_claims.sub, 'alice');
  assert.equal(tokens.id_token_claims.nonce, browserUrl.searchParams.get('nonce'));
  assert.ok(Math.abs(tokens.expires_at - (Math.floor(Date.now() / 1000) + tokens.expires_in)) <= 5);
  assert.ok(!('params' in tokens), 'the callback parameters are not printed');
  const userinfo = await fetch(`${provider.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.equal(userinfo.status, 200);
  assert.deepEqual(await userinfo.json(), { sub: 'alice', email: 'alice@example.org' });
  // No secret of the sign-in on its terminal but the address to open.
  assert.ok(!result.stderr.includes(tokens.access_token));
});

test('the Rust call (SignIn::run_blocking, examples/sign_in.rs) signs in; the token works at userinfo', async (t) => {
  const { provider, port } = await provided(t);
  const example = await startExample('sign_in', [provider.issuer, CLIENT_ID, String(port)],
    { SIGN_IN_NO_BROWSER: '1' });
  t.after(() => example.kill());
  const { browser, page } = await launchBrowser();
  t.after(() => browser.close());
  await page.goto(example.url);
  await signIn(page);
  await page.waitForSelector(`text=${SUCCESS}`);
  const { code, stdout, stderr } = await example.finished();
  assert.equal(code, 0, stderr);
  const tokens = JSON.parse(stdout.trim().split('\n').at(-1));
  assert.equal(tokens.id_token_claims.sub, 'alice');
  const userinfo = await fetch(`${provider.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
  assert.deepEqual(await userinfo.json(), { sub: 'alice', email: 'alice@example.org' });
});

test('sign-in --form-post: the provider posts the response', async (t) => {
  const { provider, port } = await provided(t);
  const { url, result } = await signInWithBrowser(t, [
    '--issuer', provider.issuer, '--client-id', CLIENT_ID, '--port', String(port), '--form-post',
  ]);
  assert.equal(new URL(url).searchParams.get('response_mode'), 'form_post');
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.json.id_token_claims.sub, 'alice');
});

test('sign-in with a provider that requires PAR: the browser gets only client_id and request_uri', async (t) => {
  const { provider, port } = await provided(t, { requirePar: true });
  const { url, result } = await signInWithBrowser(t, [
    '--issuer', provider.issuer, '--client-id', CLIENT_ID, '--port', String(port),
  ]);
  const params = [...new URL(url).searchParams.keys()].sort();
  assert.deepEqual(params, ['client_id', 'request_uri']);
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.json.access_token);
});

test('sign-in --resource: RFC 9728 metadata names the server, and the access token is for the resource', async (t) => {
  // The resource's metadata document, served by the test.
  const resourceServer = createServer();
  await new Promise((resolve) => resourceServer.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => resourceServer.close(resolve)));
  const resource = `http://127.0.0.1:${resourceServer.address().port}/mcp`;
  const { provider, port } = await provided(t, { resource });
  const asked = [];
  resourceServer.on('request', (request, response) => {
    asked.push(request.url);
    if (request.url !== '/.well-known/oauth-protected-resource/mcp') {
      response.statusCode = 404;
      return response.end();
    }
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ resource, authorization_servers: [provider.issuer] }));
  });
  const { url, result } = await signInWithBrowser(t, [
    '--resource', resource, '--client-id', CLIENT_ID, '--port', String(port), '--scope', 'openid api:read',
  ]);
  assert.deepEqual(asked, ['/.well-known/oauth-protected-resource/mcp']);
  assert.equal(new URL(url).searchParams.get('resource'), resource);
  assert.equal(result.code, 0, result.stderr);
  const claims = jose.decodeJwt(result.json.access_token);
  assert.equal(claims.aud, resource);
});

test('sign-in to a provider reached only through SSL_CERT_FILE (a private CA)', async (t) => {
  const dir = scratchDir(t, 'ca');
  const file = (name) => join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: 'ignore' });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('ca.key'),
    '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=oauth-callback e2e private CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('idp.key'),
    '-out', file('idp.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(file('ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', file('idp.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'),
    '-CAcreateserial', '-out', file('idp.pem'), '-days', '1', '-extfile', file('ext'));
  const tls = { key: readFileSync(file('idp.key')), cert: readFileSync(file('idp.pem')) };
  const { provider, port } = await provided(t, { tls });
  const args = ['--issuer', provider.issuer, '--client-id', CLIENT_ID, '--port', String(port)];
  // Without the CA: the provider's certificate is not trusted.
  const refused = await startSignIn(args);
  const untrusted = await refused.finished();
  assert.equal(untrusted.code, 69, untrusted.stderr);
  assert.match(untrusted.stderr, /certificate/i);
  // With it, as curl and Python take it.
  const env = { ...process.env, SSL_CERT_FILE: file('ca.pem') };
  const { result } = await signInWithBrowser(t, args, { env });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.json.issuer, provider.issuer);
});

// ---------------------------------------------------------------------------
// Refusals, against a stand-in provider whose answers each test bends. Its
// authorization endpoint answers at once with a redirect to the callback,
// and the test follows it as a browser would (`visit`).

/** A stand-in OpenID provider on 127.0.0.1 (plain http, loopback). */
async function standIn(t, bend = {}) {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const keys = [await jose.generateKeyPair('EdDSA', { extractable: true })];
  const jwk = async (key, kid) => ({ ...(await jose.exportJWK(key.publicKey)), kid, alg: 'EdDSA', use: 'sig' });
  const seen = { jwks: 0, token: 0, tokenRequests: [] };
  let nonce = null;
  const metadata = () => ({
    issuer,
    authorization_endpoint: `${issuer}/auth`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    id_token_signing_alg_values_supported: ['EdDSA'],
    authorization_response_iss_parameter_supported: true,
    ...bend.metadata,
  });
  const idToken = async (claims) => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { iss: issuer, sub: 'alice', aud: CLIENT_ID, iat: now, exp: now + 300, nonce, ...claims };
    const key = keys.at(-1);
    return new jose.SignJWT(payload).setProtectedHeader({ alg: 'EdDSA', kid: `k${keys.length}` }).sign(key.privateKey);
  };
  server.on('request', async (request, response) => {
    const url = new URL(request.url, issuer);
    const json = (body, status = 200) => {
      response.statusCode = status;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify(body));
    };
    if (bend.raw?.[url.pathname]) return bend.raw[url.pathname](request, response);
    if (url.pathname === '/.well-known/openid-configuration') return json(metadata());
    if (url.pathname === '/jwks') {
      seen.jwks += 1;
      const jwks = await Promise.all(keys.map((key, i) => jwk(key, `k${i + 1}`)));
      return json({ keys: bend.jwks ? bend.jwks(jwks, seen.jwks) : jwks });
    }
    if (url.pathname === '/auth') {
      nonce = url.searchParams.get('nonce');
      const back = new URL(url.searchParams.get('redirect_uri'));
      const params = { code: 'code-1', iss: issuer, ...bend.redirect };
      for (const [k, v] of Object.entries(params)) if (v !== null) back.searchParams.set(k, v);
      back.searchParams.set('state', url.searchParams.get('state'));
      response.statusCode = 302;
      response.setHeader('location', back.href);
      return response.end();
    }
    if (url.pathname === '/token') {
      seen.token += 1;
      let body = '';
      for await (const chunk of request) body += chunk;
      seen.tokenRequests.push({ authorization: request.headers.authorization ?? null, body: new URLSearchParams(body) });
      if (bend.rotate) keys.push(await jose.generateKeyPair('EdDSA', { extractable: true }));
      const token = bend.idToken ? await bend.idToken(idToken, keys) : await idToken({});
      return json({ access_token: 'at-1', token_type: 'Bearer', expires_in: 60, id_token: token });
    }
    response.statusCode = 404;
    response.end();
  });
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { issuer, seen };
}

/** Follow the authorization request as a browser would: to the provider,
 * then to the callback it redirects to; the callback's status. */
async function visit(url) {
  const redirected = await fetch(url, { redirect: 'manual' });
  return navigate(redirected.headers.get('location'));
}

/** GET `url` as a browser's navigation does (no Sec-Fetch headers of a
 * script's fetch); its status. */
function navigate(url) {
  return new Promise((resolve, reject) => {
    httpGet(url, (response) => {
      response.resume();
      resolve(response.statusCode);
    }).on('error', reject);
  });
}

/** Sign in at `issuer` with a plain-HTTP receiver, the stand-in visited. */
async function signInAtStandIn(issuer, extra = [], { env } = {}) {
  const run = await startSignIn(['--issuer', issuer, '--client-id', CLIENT_ID, '--port', '0',
    '--no-https', '--timeout', '3', ...extra], { env });
  const status = run.url ? await visit(run.url) : null;
  return { status, ...(await run.finished()) };
}

test('refused: metadata naming another issuer, and PKCE methods without S256', async (t) => {
  for (const [bend, reason] of [
    [{ metadata: { issuer: 'http://127.0.0.1:1' } }, /names the issuer "http:\/\/127\.0\.0\.1:1"/],
    [{ metadata: { code_challenge_methods_supported: ['plain'] } }, /does not support PKCE with S256/],
  ]) {
    const { issuer } = await standIn(t, bend);
    const run = await startSignIn(['--issuer', issuer, '--client-id', CLIENT_ID, '--no-https']);
    const result = await run.finished();
    assert.equal(run.url, null);
    assert.equal(result.code, 76, result.stderr);
    assert.match(result.stderr, reason);
    assert.equal(result.stdout, '');
  }
});

test('refused: iss missing where advertised, and another iss (mix-up): 400, the wait goes on', async (t) => {
  for (const [redirect, said] of [
    [{ iss: null }, 'no iss'],
    [{ iss: 'https://attacker.example' }, 'an iss other than the expected issuer'],
  ]) {
    const { issuer, seen } = await standIn(t, { redirect });
    const result = await signInAtStandIn(issuer);
    assert.equal(result.status, 400);
    assert.ok(result.stderr.includes(`refused a callback: ${said}; still waiting`), result.stderr);
    assert.equal(result.code, 124);
    assert.equal(result.stdout, '');
    assert.equal(seen.token, 0, 'the code was never exchanged');
  }
});

test('refused: ID tokens with a tampered signature, alg none, HS256 keyed with the public key, wrong aud, expired, wrong nonce', async (t) => {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const cases = {
    tampered: async (sign) => {
      const token = await sign({});
      return `${token.slice(0, -4)}${token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    },
    none: async (sign) => `${b64({ alg: 'none' })}.${(await sign({})).split('.')[1]}.`,
    hs256: async (sign, keys) => {
      const publicKey = (await jose.exportJWK(keys[0].publicKey)).x;
      const payload = jose.decodeJwt(await sign({}));
      return new jose.SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: 'k1' })
        .sign(new TextEncoder().encode(publicKey));
    },
    audience: (sign) => sign({ aud: 'someone-else' }),
    expired: (sign) => sign({ exp: Math.floor(Date.now() / 1000) - 3600 }),
    nonce: (sign) => sign({ nonce: 'not-the-one-sent' }),
  };
  for (const [name, idToken] of Object.entries(cases)) {
    const { issuer, seen } = await standIn(t, { idToken });
    const result = await signInAtStandIn(issuer);
    assert.equal(result.status, 200, name);
    assert.equal(result.code, 76, `${name}: ${result.stderr}`);
    assert.match(result.stderr, /the ID token was refused/, name);
    assert.equal(result.stdout, '', `${name}: no token leaves a failed check`);
    assert.ok(!result.stderr.includes('at-1'), name);
    assert.equal(seen.token, 1, name);
  }
});

test('a key rotated after discovery: the key set is fetched once more, then the token is taken', async (t) => {
  const { issuer, seen } = await standIn(t, { rotate: true });
  const result = await signInAtStandIn(issuer);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.json.id_token_claims.sub, 'alice');
  assert.equal(seen.jwks, 2);
  // A key that is not there even then is refused.
  const gone = await standIn(t, { jwks: (jwks) => jwks.map((key) => ({ ...key, kid: 'other' })) });
  const refused = await signInAtStandIn(gone.issuer);
  assert.equal(refused.code, 76, refused.stderr);
  assert.equal(gone.seen.jwks, 2);
});

test('the provider refused: access_denied with its description (escaped), exit 77', async (t) => {
  const { issuer, seen } = await standIn(t, {
    redirect: { code: null, error: 'access_denied', error_description: 'The user said no\u001b[31m' },
  });
  const result = await signInAtStandIn(issuer);
  assert.equal(result.status, 200);
  assert.equal(result.code, 77, result.stderr);
  assert.ok(result.stderr.includes(
    'the provider refused the sign-in: access_denied (The user said no\\u{1b}[31m)'), result.stderr);
  assert.equal(result.stdout, '');
  assert.equal(seen.token, 0);
});

test('refused before anything is sent: an http issuer off this machine, a secret as an argument', async () => {
  const plain = await startSignIn(['--issuer', 'http://id.example', '--client-id', CLIENT_ID]);
  const result = await plain.finished();
  assert.equal(result.code, 2);
  assert.match(result.stderr, /must be https:\/\//);
  const secret = await startSignIn(['--issuer', 'https://id.example', '--client-id', CLIENT_ID,
    '--client-secret', 's3cret']);
  const refused = await secret.finished();
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /unexpected argument '--client-secret'/);
});

test('the client secret from the environment reaches neither the arguments nor the browser', async (t) => {
  const { issuer } = await standIn(t);
  const dir = scratchDir(t, 'browser');
  const browser = join(dir, 'browser');
  const seenEnv = join(dir, 'env');
  writeFileSync(browser, `#!/bin/sh\nenv > ${seenEnv}\n`);
  chmodSync(browser, 0o755);
  const env = { ...process.env, OAUTH_CALLBACK_CLIENT_SECRET: 'client-s3cret' };
  // Not --no-browser: the browser command is the recorder.
  const child = spawn(binary, ['sign-in', '--issuer', issuer, '--client-id', CLIENT_ID, '--port', '0',
    '--no-https', '--timeout', '2', '--browser-command', browser], { env, stdio: 'ignore' });
  t.after(() => child.kill());
  for (let i = 0; i < 100 && !existsSync(seenEnv); i += 1) await new Promise((r) => setTimeout(r, 50));
  const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
  const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8');
  assert.ok(!cmdline.includes('client-s3cret'));
  assert.ok(existsSync(seenEnv), 'the browser command never ran');
  assert.ok(!readFileSync(seenEnv, 'utf8').includes('client-s3cret'), 'the browser inherited the secret');
  // (/proc/PID/environ keeps the start-up environment; the variable was
  // removed from the process's own, which its children inherit.)
  assert.ok(environ.includes('OAUTH_CALLBACK_CLIENT_SECRET'));
});

test('a confidential client: the secret from the variable or a file, sent as the metadata says; an HS256 ID token keyed with it', async (t) => {
  const secret = 'client-s3cret';
  const hs256 = (sign, keys, payload) => new jose.SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
  const { issuer, seen } = await standIn(t, {
    metadata: {
      token_endpoint_auth_methods_supported: ['client_secret_post'],
      id_token_signing_alg_values_supported: ['EdDSA', 'HS256'],
    },
    idToken: async (sign, keys) => hs256(sign, keys, jose.decodeJwt(await sign({}))),
  });
  const fromVariable = await signInAtStandIn(issuer, [], {
    env: { ...process.env, OAUTH_CALLBACK_CLIENT_SECRET: secret },
  });
  assert.equal(fromVariable.code, 0, fromVariable.stderr);
  assert.equal(fromVariable.json.id_token_claims.sub, 'alice');
  const dir = scratchDir(t, 'secret');
  writeFileSync(join(dir, 'secret'), `${secret}\n`);
  const fromFile = await signInAtStandIn(issuer, ['--client-secret-file', join(dir, 'secret')]);
  assert.equal(fromFile.code, 0, fromFile.stderr);
  for (const request of seen.tokenRequests) {
    assert.equal(request.body.get('client_secret'), secret);
    assert.equal(request.body.get('client_id'), CLIENT_ID);
    assert.equal(request.authorization, null);
    assert.equal(request.body.get('code_verifier').length, 43);
  }
  // Both at once is ambiguous: refused before anything is sent.
  const both = await signInAtStandIn(issuer, ['--client-secret-file', join(dir, 'secret')], {
    env: { ...process.env, OAUTH_CALLBACK_CLIENT_SECRET: secret },
  });
  assert.equal(both.code, 2);
  assert.equal(seen.token, 2);
});

test('--form-post: a code arriving in the address is refused (400), and the wait goes on', async (t) => {
  const { issuer, seen } = await standIn(t);
  const result = await signInAtStandIn(issuer, ['--form-post']);
  assert.equal(result.status, 400);
  assert.ok(result.stderr.includes('refused a callback: a code outside a form post'), result.stderr);
  assert.equal(result.code, 124);
  assert.equal(seen.token, 0);
});

test('--par without a PAR endpoint, and --resource with --issuer (named, not discovered)', async (t) => {
  const { issuer } = await standIn(t);
  const par = await signInAtStandIn(issuer, ['--par']);
  assert.equal(par.code, 2);
  assert.match(par.stderr, /no pushed_authorization_request_endpoint/);
  const named = await startSignIn(['--issuer', issuer, '--resource', 'https://api.example/mcp', '--client-id',
    CLIENT_ID, '--port', '0', '--no-https', '--timeout', '1']);
  assert.equal(new URL(named.url).searchParams.get('resource'), 'https://api.example/mcp');
  assert.equal((await named.finished()).code, 124);
});

test('the provider answering nonsense: a token endpoint that redirects, metadata over 1 MiB', async (t) => {
  const redirecting = await standIn(t, {
    raw: { '/token': (request, response) => { response.statusCode = 302; response.setHeader('location', '/elsewhere'); response.end(); } },
  });
  const result = await signInAtStandIn(redirecting.issuer);
  assert.equal(result.code, 69, result.stderr);
  assert.match(result.stderr, /302/);
  const huge = await standIn(t, {
    raw: { '/.well-known/openid-configuration': (request, response) => response.end('x'.repeat(2 * 1024 * 1024)) },
  });
  const large = await startSignIn(['--issuer', huge.issuer, '--client-id', CLIENT_ID, '--no-https']);
  const refused = await large.finished();
  assert.equal(refused.code, 69, refused.stderr);
  assert.match(refused.stderr, /larger than 1 MiB/);
});

test('HTTPS_PROXY: used for a provider elsewhere, never for this machine', async (t) => {
  // A proxy that records what it is asked to reach, and refuses it.
  const asked = [];
  const proxy = createServer();
  proxy.on('connect', (request, socket) => {
    asked.push(request.url);
    socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => proxy.close(resolve)));
  const env = { ...process.env, HTTPS_PROXY: `http://127.0.0.1:${proxy.address().port}`, NO_PROXY: '' };
  const elsewhere = await startSignIn(['--issuer', 'https://id.example', '--client-id', CLIENT_ID], { env });
  const result = await elsewhere.finished();
  assert.equal(result.code, 69, result.stderr);
  assert.deepEqual(asked, ['id.example:443']);
  // This machine is reached directly, proxy or not.
  const { issuer } = await standIn(t);
  const local = await signInAtStandIn(issuer, [], { env });
  assert.equal(local.code, 0, local.stderr);
  assert.deepEqual(asked, ['id.example:443']);
});
