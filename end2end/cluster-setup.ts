// Global setup of playwright.cluster.config.ts: PostgreSQL, Redis, 2 nodes and nginx, started
// by scripts/cluster.sh in a fresh directory. The directory goes to the workers (forked after
// this runs, with this process's environment) and to cluster-teardown.ts in E2E_CLUSTER_DIR;
// the workers read the ports from DIR/cluster.env.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLUSTER_DIR_VAR, readCluster } from './cluster-env';

const ROOT = resolve(__dirname, '..');
export const CLUSTER_SCRIPT = join(ROOT, 'scripts', 'cluster.sh');
/** Set when setup made the directory itself, so teardown may remove it. */
export const OWNED_VAR = 'E2E_CLUSTER_DIR_OWNED';

export default async function globalSetup(): Promise<void> {
  let dir = process.env[CLUSTER_DIR_VAR];
  if (dir) {
    mkdirSync(dir, { recursive: true });
  } else {
    // As root, PostgreSQL runs as `postgres`, which must reach the directory: /tmp, not a
    // TMPDIR under a closed home directory (scripts/cluster.sh says the same).
    dir = mkdtempSync(join(existsSync('/tmp') ? '/tmp' : tmpdir(), 'wallsocket-cluster-'));
    process.env[OWNED_VAR] = '1';
  }
  process.env[CLUSTER_DIR_VAR] = dir;

  // The same overrides as the single-node config (relative to end2end/), in cluster.sh's terms.
  const env = { ...process.env };
  if (process.env.E2E_SERVER && !env.WALLSOCKET_BIN) env.WALLSOCKET_BIN = resolve(__dirname, process.env.E2E_SERVER);
  if (process.env.E2E_SITE_ROOT && !env.WALLSOCKET_SITE) env.WALLSOCKET_SITE = resolve(__dirname, process.env.E2E_SITE_ROOT);

  // Every wait in cluster.sh is bounded, and a failed `up` stops what it had started.
  execFileSync('bash', [CLUSTER_SCRIPT, 'up', dir, '2'], { stdio: 'inherit', env, timeout: 300_000 });
  const cluster = readCluster(dir);
  if (!cluster || cluster.nodePids.length !== 2 || cluster.nodePorts.length !== 2) {
    throw new Error(`scripts/cluster.sh up left no usable ${dir}/cluster.env`);
  }
}
