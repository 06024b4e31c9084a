// The native runner's bootstrap: a stock Node 22 image runs this file's text with `node -e`
// (the slim image has no download tool). It downloads the runner bundle by its presigned URL, checks its
// sha256, then runs it in-process with the Job's arguments.
// Exit 70: the download failed; 71: the checksum differs.
'use strict';
const { createHash } = require('node:crypto');
const { writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

// A network error or a 5xx is tried three times (0.5 s, then 1 s apart); a 4xx is S3's final word
// (403: the URL expired or its credentials did) and is not repeated. No retry package: the stock
// image runs this file alone, without node_modules.
async function download(url) {
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(url);
      if (res.ok) return Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (attempt >= 3) fail(err.message);
    }
    if (res && res.status < 500) fail(`HTTP ${res.status} ${res.statusText}`);
    if (res && attempt >= 3) fail(`HTTP ${res.status} ${res.statusText}`);
    await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
  }
}

function fail(why) {
  console.error(`runner bundle: download failed (${why}); a 403 usually means the presigned URL expired: start the run again`);
  process.exit(70);
}

(async () => {
  const body = await download(process.env.RUNNER_BUNDLE_URL);
  const want = process.env.RUNNER_BUNDLE_SHA256;
  const got = createHash('sha256').update(body).digest('hex');
  if (got !== want) {
    console.error(`runner bundle: sha256 mismatch: expected ${want}, got ${got}; redeploy the stack`);
    process.exit(71);
  }
  // /tmp is the pod's emptyDir (the root file system is read-only).
  const file = join(tmpdir(), 'runner.mjs');
  writeFileSync(file, body);
  process.argv = [process.execPath, file, ...process.argv.slice(1)];
  await import(pathToFileURL(file).href);
})().catch((err) => {
  console.error(`runner bootstrap: ${(err && err.stack) || err}`);
  process.exit(1);
});
