import { defineConfig } from '@playwright/test';
import { execSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Workers re-read this file: settle the port and database once, in the environment they inherit.
if (!process.env.E2E_PORT) {
  process.env.E2E_PORT = execSync(
    `python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"`,
  ).toString().trim();
}
if (!process.env.E2E_DB_DIR) {
  process.env.E2E_DB_DIR = mkdtempSync(join(tmpdir(), 'wallsocket-e2e-'));
}
const port = process.env.E2E_PORT;
// The release build by default: it is what wasm-opt touches and what users run.
const server = process.env.E2E_SERVER ?? '../target/release/wallsocket';
// … and the site it was built with (test.sh builds a debug bundle without `--split` elsewhere).
const siteRoot = process.env.E2E_SITE_ROOT ?? '../target/site';

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 5_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--disable-gpu', '--disable-quic', '--disable-sync', '--disable-background-networking', '--disable-component-update'],
    },
    trace: 'retain-on-failure',
  },
  webServer: {
    command: `${server} --listen 127.0.0.1:${port} --database-url sqlite://${process.env.E2E_DB_DIR}/e2e.db --site-root ${siteRoot} --log warn --ip-connect-rate 1000 --posts-per-claim-per-min 100000 --posts-per-claim-burst 100000`,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
