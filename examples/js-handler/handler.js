// An oauth-callback handler in JavaScript: pages branded "Example (JS)" and
// the default handler's completion rule for query and form_post callbacks
// (a clear subset: no fragment bridge, no JSON bodies).
//
// Build: npm ci && npm run build   (writes ../../target/js-handler/handler.wasm)
// Run:   oauth-callback --handler target/js-handler/handler.wasm

const COMPLETING = ['code', 'error', 'access_token', 'id_token', 'refresh_token'];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const STYLE = 'body{font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;color:#1d3557}';
// Allows exactly STYLE: its SHA-256 (printf '%s' "$STYLE" | openssl dgst -sha256 -binary | base64).
const POLICY = "default-src 'none'; style-src 'sha256-Kk1IO7pjxIaviG17cfA7cDQd/oOYiwqAYnmmoIH5lFA='; "
  + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** One response: status, content type, body text, extra headers. */
function respond(status, type, text, headers = []) {
  return {
    status,
    headers: [['content-type', type], ...headers].map(([name, value]) => ({ name, value: encoder.encode(value) })),
    body: encoder.encode(text),
  };
}

/** A branded page; `message` is fixed text, never anything from the request. */
function page(status, title, message) {
  const html = `<!doctype html><meta charset="utf-8"><title>${title}</title><style>${STYLE}</style>`
    + `<h1>${title}</h1><p>${message}</p><p>Example (JS)</p>`;
  return respond(status, 'text/html; charset=utf-8', html, [['content-security-policy', POLICY]]);
}

/** The parameters of one urlencoded source; null when a key repeats. */
function parse(text) {
  const params = {};
  for (const [key, value] of new URLSearchParams(text)) {
    if (Object.hasOwn(params, key)) return null;
    params[key] = value;
  }
  return params;
}

function header(request, name) {
  const found = request.headers.find((h) => h.name === name);
  return found && decoder.decode(found.value);
}

export const handler = {
  handle(settings, request) {
    if (request.path === '/health') {
      return { response: respond(200, 'text/plain; charset=utf-8', 'OK') };
    }
    if (request.path !== settings.callbackPath) {
      return { response: respond(404, 'text/plain; charset=utf-8', 'Not Found') };
    }
    if (request.method !== 'GET' && request.method !== 'POST') {
      return { response: respond(405, 'text/plain; charset=utf-8', 'Method Not Allowed', [['allow', 'GET, POST']]) };
    }
    const query = parse(request.query ?? '');
    const form = (header(request, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')
      ? parse(decoder.decode(request.body)) : {};
    if (query === null || form === null) {
      return { response: respond(400, 'text/plain; charset=utf-8', 'Bad Request: a repeated parameter') };
    }
    const params = { ...query, ...form };
    if (!COMPLETING.some((key) => key in params)) {
      return { response: page(200, 'Nothing to complete', 'This page expects the sign-in response.') };
    }
    if (settings.expectedState != null && params.state !== settings.expectedState) {
      // Said on the host's log: names only, never the value received.
      return {
        response: page(400, 'Sign-in not verified', 'Start the sign-in again.'),
        refused: 'a state other than the expected one',
      };
    }
    const failed = 'error' in params;
    return {
      response: failed
        ? page(200, 'Sign-in failed', 'Close this window and try again.')
        : page(200, 'Signed in', 'You may close this window.'),
      completed: { params: JSON.stringify(params), method: request.method, path: request.path },
    };
  },
};
