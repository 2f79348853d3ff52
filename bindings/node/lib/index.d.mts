// Types for `import ... from 'runhost'` (lib/index.mjs): the same declarations as for require
// (lib/index.d.ts), and the default export, which is the whole CommonJS module object.
export * from './index.js';
import * as runhost from './index.js';
export default runhost;
