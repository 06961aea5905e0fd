// Sends events to a server with the official Amplitude Node SDK, unchanged but for serverUrl, and
// prints what the SDK reported for each event as one JSON object on stdout:
//   {"codes": {"200": n, "400": m, ...}, "accepted": ["<insert_id>", ...], "results": [...]}
// (`results` only with --results: per event insert_id, code and message).
//
//   node send.js --server-url URL --api-key KEY --events N [--devices D] [--prefix P]
//                [--use-batch] [--flush-queue-size S] [--bad-every K] [--results]
//
// --bad-every K makes every K-th event invalid (a 3-character user_id, under min_id_length 5), so
// the server answers 400 naming its index and the SDK drops it and resends the rest.
'use strict';

const amplitude = require('@amplitude/analytics-node');

function parseArgs(argv) {
  const args = {devices: 40, prefix: 'e', useBatch: false, flushQueueSize: 200, badEvery: 0,
                results: false};
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    if (a === '--server-url') args.serverUrl = next();
    else if (a === '--api-key') args.apiKey = next();
    else if (a === '--events') args.events = Number(next());
    else if (a === '--devices') args.devices = Number(next());
    else if (a === '--prefix') args.prefix = next();
    else if (a === '--use-batch') args.useBatch = true;
    else if (a === '--flush-queue-size') args.flushQueueSize = Number(next());
    else if (a === '--bad-every') args.badEvery = Number(next());
    else if (a === '--results') args.results = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!args.serverUrl || !args.apiKey || !(args.events > 0)) {
    throw new Error('--server-url, --api-key and --events are required');
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv);
  await amplitude.init(args.apiKey, {
    serverUrl: args.serverUrl,
    useBatch: args.useBatch,
    flushQueueSize: args.flushQueueSize,
    flushIntervalMillis: 200,
    logLevel: amplitude.Types.LogLevel.None,
  }).promise;

  const pending = [];
  for (let i = 0; i < args.events; i++) {
    const insertId = `${args.prefix}-${i}`;
    const bad = args.badEvery > 0 && i % args.badEvery === args.badEvery - 1;
    const options = {
      device_id: `device-${args.prefix}-${i % args.devices}`,
      insert_id: insertId,
      time: Date.now(),
    };
    if (bad) options.user_id = 'abc';
    pending.push(amplitude.track('sdk test', {index: i, plan: 'pro'}, options).promise.then(
        (result) => ({insertId, code: result.code, message: result.message})));
  }
  // No explicit flush(): the SDK's flush() sends without retries, while the timer-driven sends
  // (flushIntervalMillis) react to 400/413/429/5xx as in production.
  const results = await Promise.all(pending);
  const codes = {};
  const accepted = [];
  for (const r of results) {
    codes[r.code] = (codes[r.code] || 0) + 1;
    if (r.code === 200) accepted.push(r.insertId);
  }
  const out = {codes, accepted};
  if (args.results) out.results = results;
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});
