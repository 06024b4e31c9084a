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

async function download(url) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      return Buffer.from(await res.arrayBuffer());
    } catch (err) {
      if (attempt >= 3) {
        console.error(`runner bundle: download failed (${err.message}); a 403 usually means the presigned URL expired: start the run again`);
        process.exit(70);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
    }
  }
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
