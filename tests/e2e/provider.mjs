// The end-to-end suite's OpenID provider as a program of its own, for the
// tests in other languages (tests/python): `node provider.mjs REDIRECT_URI`
// prints `issuer <URL>` once it listens, and serves until stdin closes.
import { startProvider } from './support.js';

const [redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: node provider.mjs REDIRECT_URI');
  process.exit(2);
}
const provider = await startProvider(redirectUri);
console.log(`issuer ${provider.issuer}`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await provider.close();
  process.exit(0);
});
