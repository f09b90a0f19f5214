// Shared helpers for the end-to-end suite: the real oauth-callback binary, a
// real OpenID provider (oidc-provider) on 127.0.0.1, and headless Chromium.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const binary = process.env.OAUTH_CALLBACK_BIN ?? join(repo, 'target', 'release', 'oauth-callback');
export const screenshots = join(repo, 'target', 'e2e');
/** Where `cargo test --release` leaves the built examples. */
export const examples = join(repo, 'target', 'release', 'examples');
export const CLIENT_ID = 'oauth-callback-e2e';
/** A confidential client of the provider, for the peers that want one. */
export const BENCH_CLIENT = { client_id: 'oauth-callback-bench', client_secret: 'bench-secret' };

/** A new folder `oauth-callback-NAME-…` in the system's temporary folder,
 * removed with what it holds when test `t` ends. */
export function scratchDir(t, name) {
  const dir = mkdtempSync(join(tmpdir(), `oauth-callback-${name}-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Start oauth-callback (on a free port unless `port` is given, in `env`);
 * resolves once it is listening. Its end is its `close` event, not `exit`:
 * only then has everything it wrote been read. */
export function startCallback(args = [], { port = 0, env = process.env } = {}) {
  const child = spawn(binary, ['--port', String(port), ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  const exited = new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const ready = new Promise((resolve, reject) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (\S+)/.exec(stderr);
      if (match) resolve(match[1]);
    });
    child.on('exit', () => reject(new Error(`oauth-callback exited before listening:\n${stderr}`)));
  });
  return ready.then((redirectUri) => ({
    redirectUri,
    /** Waits for the process to exit; the JSON line parsed when there is one. */
    async finished() {
      const result = await exited;
      const line = result.stdout.trim();
      return { ...result, json: line ? JSON.parse(line) : null };
    },
    kill: () => child.kill(),
    /** Type `line` on its stdin (read with --paste). */
    paste: (line) => child.stdin.write(`${line}\n`),
  }));
}

/** Start `oauth-callback sign-in` with `args` (and --no-browser) in `env`;
 * resolves once the address to open is printed: that address, and the
 * process's end (its exit code, stdout, stderr and the JSON line). */
export function startSignIn(args, { env = process.env } = {}) {
  const child = spawn(binary, ['sign-in', '--no-browser', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  const exited = new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const finished = async () => {
    const result = await exited;
    const line = result.stdout.trim();
    return { ...result, json: line ? JSON.parse(line) : null };
  };
  const opened = new Promise((resolve) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /open this page to sign in: (\S+)/.exec(stderr);
      if (match) resolve(match[1]);
    });
    child.on('exit', () => resolve(null));
  });
  return opened.then((url) => ({ url, pid: child.pid, finished, kill: () => child.kill() }));
}

/** Start the built example `name` with `args` and `env` added to ours; it
 * prints `open <URL>` on stdout instead of opening a browser. Resolves
 * with that URL and the example's end: its exit code, stdout and stderr. */
export function startExample(name, args, env) {
  const example = spawn(join(examples, name), args,
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  example.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => {
    example.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return new Promise((resolve, reject) => {
    example.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /^open (\S+)$/m.exec(stdout);
      if (match) resolve({ url: match[1], finished: () => exited, kill: () => example.kill() });
    });
    example.on('exit', () => reject(new Error(`the example ${name} exited early:\n${stderr}`)));
  });
}

/** A port that was free a moment ago. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A real OpenID provider on 127.0.0.1 (https with `tls`: `{key, cert}`)
 * with a public client for `redirectUri` (one, or a list; its https ones):
 * the code flow (with PAR required when `requirePar`) with refresh tokens
 * (rotated at each use) and their revocation (RFC 7009), the device flow
 * (RFC 8628), open dynamic registration (RFC 7591), the implicit one,
 * and `resource` served as an RFC 8707 resource server; and a confidential
 * client for all of them, the code flow only (`BENCH_CLIENT`, for
 * bench/sign_in.py's peers, some of which register `http://localhost`).
 * `counts` tells what it did: authorizations, grants by type, and
 * registrations; `forgetClient(id)` deletes a registered client. */
export async function startProvider(redirectUri, { requirePar = false, resource = null, tls = null } = {}) {
  const server = tls ? createHttpsServer(tls) : createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      application_type: 'web',
      token_endpoint_auth_method: 'none',
      // Implicit-capable: oidc-provider takes https redirect URIs only.
      redirect_uris: [redirectUri].flat().filter((uri) => uri.startsWith('https:')),
      response_types: ['code', 'id_token token'],
      grant_types: ['authorization_code', 'implicit', 'refresh_token',
        'urn:ietf:params:oauth:grant-type:device_code'],
    }, {
      ...BENCH_CLIENT,
      application_type: 'web',
      token_endpoint_auth_method: 'client_secret_post',
      redirect_uris: [redirectUri].flat(),
      response_types: ['code'],
      grant_types: ['authorization_code'],
    }],
    responseTypes: ['code', 'id_token token'],
    // A refresh token for every client allowed the grant (not only with
    // offline_access), as many providers do.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    cookies: { keys: ['oauth-callback-e2e-only'] },
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub, email: `${sub}@example.org` }) }),
    claims: { openid: ['sub'], email: ['email'] },
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      deviceFlow: { enabled: true },
      registration: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: requirePar },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => {
          if (indicator !== resource) throw new Error(`unknown resource ${indicator}`);
          return { scope: 'api:read', audience: resource, accessTokenFormat: 'jwt' };
        },
      },
    },
  });
  provider.on('server_error', (ctx, error) => console.error('provider error:', error));
  const counts = { authorizations: 0, grants: {}, registrations: 0 };
  provider.on('registration_create.success', () => { counts.registrations += 1; });
  provider.on('authorization.success', () => { counts.authorizations += 1; });
  provider.on('grant.success', (ctx) => {
    const type = ctx.oidc.params.grant_type;
    counts.grants[type] = (counts.grants[type] ?? 0) + 1;
  });
  server.on('request', provider.callback());
  return {
    issuer, server, counts,
    forgetClient: (id) => provider.Client.adapter.destroy(id),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A PKCE verifier and its S256 challenge, and a random state and nonce. */
export function secrets() {
  const verifier = randomBytes(32).toString('base64url');
  return {
    verifier,
    challenge: createHash('sha256').update(verifier).digest('base64url'),
    state: randomBytes(16).toString('base64url'),
    nonce: randomBytes(16).toString('base64url'),
  };
}

/** The provider's authorization URL. */
export function authorizationUrl(issuer, redirectUri, params) {
  const url = new URL(`${issuer}/auth`);
  url.search = new URLSearchParams({ client_id: CLIENT_ID, redirect_uri: redirectUri, scope: 'openid', ...params });
  return url.href;
}

/** Exchange a code at the token endpoint with the PKCE verifier. */
export async function exchangeCode(issuer, redirectUri, code, verifier) {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: CLIENT_ID, code_verifier: verifier,
    }),
  });
  return { status: response.status, body: await response.json() };
}

/** Headless Chromium (Debian's), a fresh profile, certificate errors
 * ignored, unless `verify`: then it trusts what its NSS database in
 * `env.HOME` trusts, as a user's browser does. */
export async function launchBrowser({ verify = false, env = process.env } = {}) {
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`${executablePath} is missing; get it with: apt-get install chromium (or set CHROMIUM)`);
  }
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
    env,
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: !verify });
  return { browser, page: await context.newPage() };
}

/** Sign in on the provider's pages (any login works) and accept the consent. */
export async function signIn(page) {
  await page.fill('input[name=login]', 'alice');
  await page.fill('input[name=password]', 'secret');
  await page.click('button[type=submit]');
  // The consent page's "Continue" (autofocus, which the login page's button
  // lacks), waited for: a second click on `button[type=submit]` could land
  // on the login page while it is still shown, and under load the sign-in
  // then stayed short of the callback (two runs of this suite in CI's
  // conditions, 2026-12-07).
  await page.click('button[autofocus]');
}

/** Save what the browser shows, light and dark, under target/e2e/. */
export async function screenshot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(screenshots, `${name}-${scheme}.png`) });
  }
}
