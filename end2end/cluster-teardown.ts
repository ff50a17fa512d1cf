// Global teardown of playwright.cluster.config.ts: `scripts/cluster.sh down` on the directory
// cluster-setup.ts used. It runs even when setup failed, and after the node-loss test killed a
// node (`down` skips pids that are gone). The directory is removed when setup made it and
// `down` succeeded, unless E2E_CLUSTER_KEEP is set (failed tests carry the node logs already).
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { CLUSTER_DIR_VAR } from './cluster-env';
import { CLUSTER_SCRIPT, OWNED_VAR } from './cluster-setup';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env[CLUSTER_DIR_VAR];
  if (!dir || !existsSync(dir)) return;
  execFileSync('bash', [CLUSTER_SCRIPT, 'down', dir], { stdio: 'inherit', timeout: 180_000 });
  if (process.env[OWNED_VAR] && !process.env.E2E_CLUSTER_KEEP) {
    rmSync(dir, { recursive: true, force: true });
  } else {
    console.log(`cluster directory kept: ${dir}`);
  }
}
