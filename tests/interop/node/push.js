// Drives prom-client's Pushgateway against a gateway:
//   node push.js <gateway-url> <push|pushAdd|delete> <job> '<groupings-json>' [value]
// Exits non-zero (printing the error) when prom-client reports a failure.
'use strict';
const client = require('prom-client');

async function main() {
  const [url, op, jobName, groupingsJson, value] = process.argv.slice(2);
  const registry = new client.Registry();
  const gauge = new client.Gauge({
    name: 'node_interop_value',
    help: 'A gauge pushed by prom-client.',
    labelNames: ['source'],
    registers: [registry],
  });
  gauge.set({ source: 'node' }, Number(value || '1'));
  const counter = new client.Counter({
    name: 'node_interop_events_total',
    help: 'A counter pushed by prom-client.',
    registers: [registry],
  });
  counter.inc(3);
  const gateway = new client.Pushgateway(url, { timeout: 5000 }, registry);
  const params = { jobName, groupings: JSON.parse(groupingsJson || '{}') };
  const result = await gateway[op](params);
  const status = result && result.resp ? result.resp.statusCode : 'none';
  if (typeof status === 'number' && status >= 400) {
    console.error(`status ${status}: ${result.body}`);
    process.exit(2);
  }
  console.log(`status ${status}`);
}

main().catch((err) => {
  console.error(String(err && err.message ? err.message : err));
  process.exit(1);
});
