import { defineConfig } from '@playwright/test';
import { readCluster } from './cluster-env';

// The tests in tests-cluster/ against 2 nodes behind nginx (deploy/nginx.conf), with PostgreSQL
// and Redis: `npx playwright test -c playwright.cluster.config.ts`. Needs what
// scripts/cluster.sh needs (scripts/install-tools.sh --cluster) and a release build.
//
// cluster-setup.ts starts the cluster (scripts/cluster.sh up DIR 2) after this file is first
// read, and sets E2E_CLUSTER_DIR=DIR. The workers start after it and read this file again,
// with E2E_CLUSTER_DIR inherited: they find nginx's port in DIR/cluster.env. In the runner's
// own process, and with --list (which starts nothing), there is no cluster yet and no baseURL,
// which only the workers use.
const cluster = readCluster();

export default defineConfig({
  testDir: './tests-cluster',
  globalSetup: './cluster-setup.ts',
  globalTeardown: './cluster-teardown.ts',
  // Placing pages on a given node may take a few page loads; killing one takes reconnects.
  timeout: 90_000,
  expect: { timeout: 10_000 },
  // In file order, one at a time: the node-loss test comes last, and after it one node is gone.
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: cluster?.baseURL,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--disable-gpu', '--disable-quic', '--disable-sync', '--disable-background-networking', '--disable-component-update'],
    },
    trace: 'retain-on-failure',
  },
});
