// Bytes a browser downloads for a first and a second visit to a page, from Chromium's own
// network log (encoded bytes on the wire: headers and compressed bodies; 0 for a file taken
// from the cache). Usage: node bench/visits.mjs URL
import { chromium } from '@playwright/test';

const url = process.argv[2];
if (!url) {
  console.error('usage: node bench/visits.mjs URL');
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--disable-gpu', '--disable-quic', '--disable-sync', '--disable-background-networking'],
});
const timeout = setTimeout(() => {
  console.error('visits.mjs: no answer within 60 s');
  process.exit(1);
}, 60_000);
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  let requests = new Map();
  // Chromium may say a request was served from its cache before or after its response.
  const fromCache = new Set();
  cdp.on('Network.requestServedFromCache', (e) => fromCache.add(e.requestId));
  cdp.on('Network.responseReceived', (e) =>
    requests.set(e.requestId, {
      url: e.response.url,
      status: e.response.status,
      cached: () => fromCache.has(e.requestId) || e.response.fromDiskCache || e.response.fromMemoryCache,
      bytes: 0,
    }),
  );
  cdp.on('Network.loadingFinished', (e) => {
    const r = requests.get(e.requestId);
    if (r) r.bytes = e.encodedDataLength;
  });
  const visit = async (label) => {
    requests = new Map();
    await page.goto(url, { waitUntil: 'networkidle' });
    const rows = [...requests.values()].filter((r) => r.url && !r.url.startsWith('ws'));
    console.log(`${label}:`);
    let total = 0;
    let assets = 0;
    for (const r of rows) {
      const path = new URL(r.url).pathname;
      const how = r.cached() ? 'from the cache' : `HTTP ${r.status}`;
      console.log(`  ${path.padEnd(58)} ${String(r.bytes).padStart(9)} bytes  ${how}`);
      total += r.bytes;
      if (/\.(js|wasm|css)$/.test(path)) assets += r.bytes;
    }
    console.log(`  total ${total} bytes, of which JS, WASM and CSS ${assets} bytes, ${rows.filter((r) => !r.cached()).length} requests`);
  };
  await visit('first visit');
  await visit('second visit (same browser)');
} finally {
  clearTimeout(timeout);
  await browser.close();
}
