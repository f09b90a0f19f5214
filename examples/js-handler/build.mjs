// Build handler.js into a component for oauth-callback's world
// `callback-handler` (wit/callback.wit), importing nothing: every WASI feature
// of the engine is left out, as the sandbox allows none of them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { componentize } from '@bytecodealliance/componentize-js';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] ?? join(here, '..', '..', 'target', 'js-handler', 'handler.wasm');
const { component } = await componentize({
  sourcePath: join(here, 'handler.js'),
  witPath: join(here, '..', '..', 'wit'),
  worldName: 'callback-handler',
  disableFeatures: ['stdio', 'random', 'clocks', 'http', 'fetch-event'],
});
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, component);
console.log(`wrote ${out} (${(component.length / 2 ** 20).toFixed(1)} MiB)`);
