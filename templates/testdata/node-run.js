// Runs a CloudFront Function under node for the Go tests: reads
// {code, kvs, events} as JSON on stdin, prints one {result} or {error} per
// event as a JSON array. The cloudfront module is a map-backed stand-in;
// crypto, querystring and buffer are node's own.
'use strict';
const vm = require('vm');

let input = '';
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', async () => {
  const { code, kvs, events } = JSON.parse(input);
  const store = kvs || {};
  const cloudfront = {
    // The gate reads the store associated with its function and names
    // none (a function has at most one): an id here is a regression that
    // would tie the code to one store's ARN.
    kvs: (...id) => {
      if (id.length > 0) throw new Error('kvs(' + JSON.stringify(id[0]) + '): the gate must call kvs() without a store id');
      return {
        get: async (k) => {
          if (!Object.prototype.hasOwnProperty.call(store, k)) throw new Error('KeyNotFound');
          return store[k];
        },
        exists: async (k) => Object.prototype.hasOwnProperty.call(store, k),
      };
    },
  };
  const modules = { crypto: require('crypto'), querystring: require('querystring'), buffer: require('buffer'), cloudfront };
  const ctx = vm.createContext({
    require: (m) => {
      if (!modules[m]) throw new Error('no module ' + m);
      return modules[m];
    },
    Buffer,
  });
  const script = code.replace(/^\s*import\s+([A-Za-z_$][\w$]*)\s+from\s*["']([^"']+)["'];?/gm, 'var $1=require("$2");');
  vm.runInContext('"use strict";' + script, ctx, { filename: 'function.js' });
  const out = [];
  for (const ev of events) {
    try {
      // Round-trip through JSON inside the context, as CloudFront passes
      // plain objects.
      const res = await vm.runInContext('handler', ctx)(vm.runInContext('(' + JSON.stringify(ev) + ')', ctx));
      out.push({ result: JSON.parse(JSON.stringify(res)) });
    } catch (e) {
      out.push({ error: String(e && e.stack ? e.stack : e) });
    }
  }
  process.stdout.write(JSON.stringify(out));
});
