// Lighthouse 12 (mobile, default simulated throttling) on each URL given, with Debian's
// Chromium: performance and accessibility scores, the paint metrics, and every failed
// accessibility audit with the elements it names. Usage: node bench/lighthouse.mjs URL...
import lighthouse from 'lighthouse';
import * as chromeLauncher from 'chrome-launcher';

const urls = process.argv.slice(2);
if (urls.length === 0) {
  console.error('usage: node bench/lighthouse.mjs URL...');
  process.exit(2);
}
let chrome;
const timeout = setTimeout(() => {
  console.error('lighthouse.mjs: no answer within 180 s');
  chrome?.kill();
  process.exit(1);
}, 180_000);
chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  // As root (CI), Chromium runs only without its sandbox.
  chromeFlags: ['--headless=new', '--no-sandbox', '--disable-gpu'],
});
try {
  for (const url of urls) {
    const { lhr } = await lighthouse(url, {
      port: chrome.port,
      output: 'json',
      logLevel: 'error',
      onlyCategories: ['performance', 'accessibility'],
    });
    const score = (c) => Math.round(lhr.categories[c].score * 100);
    const shown = (id) => lhr.audits[id].displayValue;
    console.log(`${new URL(url).pathname}: performance ${score('performance')}, accessibility ${score('accessibility')}`);
    console.log(
      `  LCP ${shown('largest-contentful-paint')}, FCP ${shown('first-contentful-paint')}, ` +
        `TBT ${shown('total-blocking-time')}, ${shown('total-byte-weight')}`,
    );
    for (const ref of lhr.categories.accessibility.auditRefs) {
      const audit = lhr.audits[ref.id];
      if (audit.score === null || audit.score >= 1) continue;
      const nodes = (audit.details?.items ?? []).map((i) => i.node?.selector).filter(Boolean);
      console.log(`  accessibility failed: ${ref.id} (${nodes.join('; ')})`);
    }
  }
} finally {
  clearTimeout(timeout);
  chrome.kill();
}
