// `oauth-callback token` and `sign-out` end to end: the project's OpenID
// provider (refresh tokens rotated at each use, revocation) and headless
// Chromium on 127.0.0.1. The browser command is a recorder: each test
// knows how many times a browser was sent to sign in, and drives Chromium
// to that address itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { CLIENT_ID, binary, freePort, launchBrowser, scratchDir, signIn, startProvider } from './support.js';

const SUCCESS = 'Credentials received successfully. You may close this window.';
const WITH_KEYRING = join(dirname(fileURLToPath(import.meta.url)), 'with-keyring.sh');

/** A provider, a fresh data folder (XDG_DATA_HOME) and a browser recorder,
 * for one test; `run(args)` runs `oauth-callback token|sign-out …` there. */
async function setUp(t, { register = false } = {}) {
  const port = await freePort();
  const provider = await startProvider(`https://127.0.0.1:${port}/callback`);
  t.after(() => provider.close());
  const home = scratchDir(t, 'token');
  const opened = join(home, 'opened');
  const recorder = join(home, 'open-browser');
  writeFileSync(recorder, `#!/bin/sh\nprintf '%s\\n' "$1" >> '${opened}'\n`);
  chmodSync(recorder, 0o755);
  const env = { ...process.env, XDG_DATA_HOME: join(home, 'data') };
  delete env.OAUTH_CALLBACK_CLIENT_SECRET;
  delete env.DBUS_SESSION_BUS_ADDRESS; // no Secret Service unless a test starts one
  const provided = ['--issuer', provider.issuer, ...(register ? [] : ['--client-id', CLIENT_ID]),
    '--scope', 'openid email'];
  const tokenArgs = [...provided, '--port', String(port), '--browser-command', recorder];
  /** The addresses the browser was sent to, so far. */
  const addresses = () => (existsSync(opened) ? readFileSync(opened, 'utf8').split('\n').filter(Boolean) : []);
  /** Run the command with `args` (with `keyring`, inside a D-Bus session
   * with an unlocked Secret Service); its end. */
  const run = (args, { keyring = false } = {}) => new Promise((resolve) => {
    const command = keyring ? ['dbus-run-session', '--', WITH_KEYRING, binary] : [binary];
    const child = spawn(command[0], [...command.slice(1), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => { stdout += chunk; });
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  /** Wait for the `n`th address the browser was sent to, and sign in there. */
  const signInAt = async (n) => {
    const deadline = Date.now() + 20_000;
    while (addresses().length < n) {
      if (Date.now() > deadline) assert.fail(`the browser was not sent to sign in (${n})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { browser, page } = await launchBrowser();
    try {
      await page.goto(addresses()[n - 1]);
      await signIn(page);
      await page.waitForSelector(`text=${SUCCESS}`);
    } finally {
      await browser.close();
    }
  };
  /** `token …` while Chromium signs in at its address (the `n`th). */
  const tokenWithSignIn = async (args, n, options = {}) => {
    const [result] = await Promise.all([run(['token', ...tokenArgs, ...args], options), signInAt(n)]);
    return result;
  };
  return { provider, home, env, provided, port, tokenArgs, addresses, run, signInAt, tokenWithSignIn,
    tokensDir: join(home, 'data', 'oauth-callback', 'tokens') };
}

/** Refresh `refreshToken` at the provider directly: its status and error. */
async function refreshAt(issuer, refreshToken) {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENT_ID }),
  });
  return { status: response.status, body: await response.json() };
}

/** The one cached entry's file. */
function entryFile(tokensDir) {
  const files = readdirSync(tokensDir).filter((name) => name.endsWith('.json'));
  assert.equal(files.length, 1, `one entry: ${files}`);
  return join(tokensDir, files[0]);
}

test('token: signs in once, then the cache; private files; --list, the outputs, exec-credential', async (t) => {
  const s = await setUp(t);
  const first = await s.tokenWithSignIn([], 1);
  assert.equal(first.code, 0, first.stderr);
  const signedIn = JSON.parse(first.stdout);
  assert.equal(signedIn.source, 'sign-in');
  assert.equal(signedIn.id_token_claims.sub, 'alice');
  assert.ok(signedIn.refresh_token, 'the provider gave a refresh token');
  assert.equal(statSync(s.tokensDir).mode & 0o777, 0o700);
  const file = entryFile(s.tokensDir);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const kept = readFileSync(file, 'utf8');
  assert.ok(!kept.includes('code_verifier') && !kept.includes('"code"'), 'no verifier, no code');
  assert.equal(JSON.parse(kept).tokens.access_token, signedIn.access_token);

  const second = await s.run(['token', ...s.tokenArgs]);
  assert.equal(second.code, 0, second.stderr);
  const cached = JSON.parse(second.stdout);
  assert.equal(cached.source, 'cache');
  assert.equal(cached.access_token, signedIn.access_token);
  assert.equal(s.addresses().length, 1, 'no browser for a cached token');
  assert.ok(!second.stderr.includes('listening on'), 'nothing listened');

  const alone = await s.run(['token', ...s.tokenArgs, '--output', 'access-token']);
  assert.equal(alone.stdout, `${signedIn.access_token}\n`);
  const idToken = await s.run(['token', ...s.tokenArgs, '--output', 'id-token']);
  assert.equal(idToken.stdout, `${signedIn.id_token}\n`);

  const exec = await s.run(['token', ...s.tokenArgs, '--output', 'exec-credential']);
  assert.equal(exec.code, 0, exec.stderr);
  const credential = JSON.parse(exec.stdout);
  assert.equal(credential.apiVersion, 'client.authentication.k8s.io/v1');
  assert.equal(credential.kind, 'ExecCredential');
  assert.equal(credential.status.token, signedIn.id_token);
  assert.match(credential.status.expirationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(Date.parse(credential.status.expirationTimestamp) / 1000, signedIn.id_token_claims.exp);

  const list = await s.run(['token', '--list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^${s.provider.issuer}  client ${CLIENT_ID}  scopes email openid  expires \\S+Z, refreshable  from sign-in\\n$`));
  for (const secret of [signedIn.access_token, signedIn.refresh_token, signedIn.id_token]) {
    assert.ok(!list.stdout.includes(secret) && !list.stderr.includes(secret));
  }
});

test('token: an entry that no longer stays valid is refreshed once; the rotated refresh token is kept', async (t) => {
  const s = await setUp(t);
  const first = JSON.parse((await s.tokenWithSignIn([], 1)).stdout);
  // Valid for less than a day: with --min-valid 86400, it must be refreshed.
  const refreshed = await s.run(['token', ...s.tokenArgs, '--min-valid', '86400']);
  assert.equal(refreshed.code, 0, refreshed.stderr);
  const tokens = JSON.parse(refreshed.stdout);
  assert.equal(tokens.source, 'refresh');
  assert.equal(s.provider.counts.grants.refresh_token, 1);
  assert.equal(s.addresses().length, 1, 'no browser for a refresh');
  assert.notEqual(tokens.access_token, first.access_token);
  assert.notEqual(tokens.refresh_token, first.refresh_token, 'the provider rotated it');
  assert.equal(tokens.id_token_claims.sub, first.id_token_claims.sub);
  const kept = JSON.parse(readFileSync(entryFile(s.tokensDir), 'utf8'));
  assert.equal(kept.tokens.refresh_token, tokens.refresh_token, 'the rotated refresh token is stored');
  assert.equal(kept.source, 'refresh');
  // The first refresh token was spent: the provider refuses it now.
  assert.equal((await refreshAt(s.provider.issuer, first.refresh_token)).body.error, 'invalid_grant');
  // And the next call without --min-valid comes from the cache.
  assert.equal(JSON.parse((await s.run(['token', ...s.tokenArgs])).stdout).source, 'cache');
});

test('token: a refresh token the provider refuses (revoked) falls back to a sign-in', async (t) => {
  const s = await setUp(t);
  const first = JSON.parse((await s.tokenWithSignIn([], 1)).stdout);
  const revoked = await fetch(`${s.provider.issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: first.refresh_token, client_id: CLIENT_ID }),
  });
  assert.equal(revoked.status, 200);
  const again = await s.tokenWithSignIn(['--min-valid', '86400'], 2);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).source, 'sign-in');
  assert.match(again.stderr, /no longer takes the cached refresh token: signing in again/);
  assert.equal(s.provider.counts.authorizations, 2);
});

test('token: eight started at once cause one authorization and one token request, and print the same token', async (t) => {
  const s = await setUp(t);
  const runs = Array.from({ length: 8 }, () => s.run(['token', ...s.tokenArgs]));
  await s.signInAt(1);
  const results = await Promise.all(runs);
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  const printed = results.map((result) => JSON.parse(result.stdout));
  assert.equal(new Set(printed.map((tokens) => tokens.access_token)).size, 1, 'one token for all');
  assert.deepEqual(printed.map((tokens) => tokens.source).sort(), ['cache', 'cache', 'cache', 'cache', 'cache', 'cache', 'cache', 'sign-in']);
  assert.equal(s.addresses().length, 1, 'one browser');
  assert.equal(s.provider.counts.authorizations, 1);
  assert.deepEqual(s.provider.counts.grants, { authorization_code: 1 });
});

test('token: a corrupt cache file is said once, not trusted, and replaced by the sign-in', async (t) => {
  const s = await setUp(t);
  await s.tokenWithSignIn([], 1);
  const file = entryFile(s.tokensDir);
  writeFileSync(file, readFileSync(file, 'utf8').slice(0, 40));
  const again = await s.tokenWithSignIn([], 2);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).source, 'sign-in');
  const warnings = again.stderr.split('\n').filter((line) => line.includes(`ignoring the token cache file ${file}`));
  assert.equal(warnings.length, 1, again.stderr);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).source, 'sign-in');
});

test('token: no terminal, no browser: one line and exit 75 at once, nothing listening', async (t) => {
  const s = await setUp(t);
  const started = Date.now();
  const result = await s.run(['token', ...s.provided, '--no-browser']);
  assert.equal(result.code, 75, result.stderr);
  assert.ok(Date.now() - started < 5000);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^oauth-callback: a sign-in is needed, but none can happen here/);
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.equal(s.provider.counts.authorizations, 0);
});

test('sign-out revokes the refresh token at the provider and removes the entry; --all', async (t) => {
  const s = await setUp(t);
  const first = JSON.parse((await s.tokenWithSignIn([], 1)).stdout);
  const out = await s.run(['sign-out', ...s.provided]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, `signed out of ${s.provider.issuer}: revoked there, removed here\n`);
  assert.equal((await refreshAt(s.provider.issuer, first.refresh_token)).body.error, 'invalid_grant');
  assert.deepEqual(readdirSync(s.tokensDir).filter((name) => name.endsWith('.json')), []);
  const list = await s.run(['token', '--list']);
  assert.match(list.stdout, /^no cached tokens in /);
  const again = await s.run(['sign-out', ...s.provided]);
  assert.equal(again.stdout, `${s.provider.issuer}: no cached tokens\n`);

  const second = JSON.parse((await s.tokenWithSignIn([], 2)).stdout);
  const all = await s.run(['sign-out', '--all']);
  assert.equal(all.code, 0, all.stderr);
  assert.equal(all.stdout, `signed out of ${s.provider.issuer}: revoked there, removed here\n`);
  assert.equal((await refreshAt(s.provider.issuer, second.refresh_token)).body.error, 'invalid_grant');
});

test('token without --client-id registers a client (RFC 7591), keeps and reuses it, and registers again once forgotten', async (t) => {
  const s = await setUp(t, { register: true });
  const first = await s.tokenWithSignIn([], 1);
  assert.equal(first.code, 0, first.stderr);
  const signedIn = JSON.parse(first.stdout);
  assert.equal(s.provider.counts.registrations, 1);
  const registrations = join(s.home, 'data', 'oauth-callback', 'registrations');
  const [file] = readdirSync(registrations);
  assert.equal(statSync(file ? join(registrations, file) : registrations).mode & 0o777, 0o600);
  const registration = JSON.parse(readFileSync(join(registrations, file), 'utf8'));
  assert.equal(signedIn.id_token_claims.aud, registration.client_id);
  assert.deepEqual(registration.redirect_uris, [`https://127.0.0.1:${s.port}/callback`]);
  assert.ok(!JSON.stringify(registration).includes('secret'), 'nothing secret is kept');

  // Used again: a refresh with the registered client, no new registration.
  const refreshed = await s.run(['token', ...s.tokenArgs, '--min-valid', '86400']);
  assert.equal(refreshed.code, 0, refreshed.stderr);
  assert.equal(JSON.parse(refreshed.stdout).source, 'refresh');
  assert.equal(s.provider.counts.registrations, 1);
  const list = await s.run(['token', '--list']);
  assert.match(list.stdout, /client \(registered\)/);

  // The provider forgets the client: the refresh is refused (invalid_client),
  // a new client is registered, and the user signs in with it.
  await s.provider.forgetClient(registration.client_id);
  const again = await s.tokenWithSignIn(['--min-valid', '86400'], 2);
  assert.equal(again.code, 0, again.stderr);
  const tokens = JSON.parse(again.stdout);
  assert.equal(tokens.source, 'sign-in');
  assert.match(again.stderr, /no longer knows the registered client: registering again/);
  assert.equal(s.provider.counts.registrations, 2);
  const renewed = JSON.parse(readFileSync(join(registrations, file), 'utf8'));
  assert.notEqual(renewed.client_id, registration.client_id);
  assert.equal(tokens.id_token_claims.aud, renewed.client_id);
});

/** Every file under `dir`, with its contents. */
function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

test('token --cache keyring: kept in a real Secret Service (gnome-keyring in dbus-run-session), no token in a file', async (t) => {
  const s = await setUp(t);
  const first = await s.tokenWithSignIn(['--cache', 'keyring'], 1, { keyring: true });
  assert.equal(first.code, 0, first.stderr);
  const signedIn = JSON.parse(first.stdout);
  assert.equal(signedIn.source, 'sign-in');
  assert.ok(!first.stderr.includes('keyring cannot be used'), first.stderr);
  const names = readdirSync(s.tokensDir);
  assert.ok(names.some((name) => name.endsWith('.in-keyring')), `${names}`);
  assert.ok(!names.some((name) => name.endsWith('.json')), `no entry in a file: ${names}`);
  for (const file of filesUnder(join(s.home, 'data'))) {
    assert.ok(!readFileSync(file).includes(signedIn.access_token), `the token is in ${file}`);
  }
  // Another session, the same keyring: the token comes from it.
  const second = await s.run(['token', ...s.tokenArgs, '--cache', 'keyring'], { keyring: true });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).source, 'cache');
  assert.equal(JSON.parse(second.stdout).access_token, signedIn.access_token);
  const list = await s.run(['token', '--list'], { keyring: true });
  assert.match(list.stdout, new RegExp(`^${s.provider.issuer}  client ${CLIENT_ID}  `));
  const out = await s.run(['sign-out', ...s.provided], { keyring: true });
  assert.equal(out.stdout, `signed out of ${s.provider.issuer}: revoked there, removed here\n`);
  assert.deepEqual(readdirSync(s.tokensDir).filter((name) => !name.endsWith('.lock')), []);
});

test('token --cache keyring with no Secret Service on the bus: one warning, then the file cache', async (t) => {
  const s = await setUp(t);
  const first = await s.tokenWithSignIn(['--cache', 'keyring'], 1);
  assert.equal(first.code, 0, first.stderr);
  const warnings = first.stderr.split('\n').filter((line) => line.includes('the keyring cannot be used'));
  assert.equal(warnings.length, 1, first.stderr);
  assert.match(warnings[0], /keeping tokens in .*tokens instead/);
  assert.equal(JSON.parse(readFileSync(entryFile(s.tokensDir), 'utf8')).source, 'sign-in');
  const second = await s.run(['token', ...s.tokenArgs, '--cache', 'keyring']);
  assert.equal(JSON.parse(second.stdout).source, 'cache');
});

test('token --no-cache keeps nothing: the next call signs in again', async (t) => {
  const s = await setUp(t);
  const first = await s.tokenWithSignIn(['--no-cache'], 1);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).source, 'sign-in');
  assert.ok(!existsSync(s.tokensDir), 'no token folder was made');
  const second = await s.tokenWithSignIn(['--no-cache'], 2);
  assert.equal(JSON.parse(second.stdout).source, 'sign-in');
  assert.equal(s.provider.counts.authorizations, 2);
});

test('a token call killed while it holds the lock does not hold up the next one (the OS releases it)', async (t) => {
  const s = await setUp(t);
  const child = spawn(binary, ['token', ...s.tokenArgs], { env: s.env, stdio: 'ignore' });
  const deadline = Date.now() + 20_000;
  while (s.addresses().length < 1) {
    if (Date.now() > deadline) assert.fail('the first call never sent the browser');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  const started = Date.now();
  const next = await s.tokenWithSignIn([], 2);
  assert.equal(next.code, 0, next.stderr);
  assert.equal(JSON.parse(next.stdout).source, 'sign-in');
  assert.ok(Date.now() - started < 20_000);
});

test('an https client id (a client ID metadata document) is passed as it is, with a warning when not advertised', async (t) => {
  const s = await setUp(t);
  const clientId = 'https://app.example/oauth-client.json';
  const child = spawn(binary, ['sign-in', '--issuer', s.provider.issuer, '--client-id', clientId, '--no-browser'],
    { env: s.env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill());
  let stderr = '';
  const url = await new Promise((resolve) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /open this page to sign in: (\S+)/.exec(stderr);
      if (match) resolve(new URL(match[1]));
    });
    child.on('exit', () => resolve(null));
  });
  assert.ok(url, stderr);
  assert.equal(url.searchParams.get('client_id'), clientId);
  assert.match(stderr, /the client id is a URL \(a client ID metadata document\), but the provider's metadata does not say it takes them/);
});
