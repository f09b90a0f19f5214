// The end-to-end suite's OpenID provider as a program of its own, for the
// tests in other languages (tests/python) and bench/sign_in.py: `node
// provider.mjs REDIRECT_URI...` prints `issuer <URL>` once it listens, and
// serves until stdin closes.
import { startProvider } from './support.js';

const redirectUris = process.argv.slice(2);
if (redirectUris.length === 0) {
  console.error('usage: node provider.mjs REDIRECT_URI...');
  process.exit(2);
}
const provider = await startProvider(redirectUris);
if (process.env.OAUTH_CALLBACK_TOKEN_TIMES) {
  // For bench/sign_in.py: how long each token request took here, one
  // `token <ms>` line each, from its arrival to its answer's end.
  provider.server.prependListener('request', (request, response) => {
    if (!request.url.startsWith('/token')) return;
    const start = process.hrtime.bigint();
    response.on('finish', () => console.log(`token ${Number(process.hrtime.bigint() - start) / 1e6}`));
  });
}
console.log(`issuer ${provider.issuer}`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await provider.close();
  process.exit(0);
});
