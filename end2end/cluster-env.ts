// The cluster that cluster-setup.ts starts with scripts/cluster.sh: its directory is in
// E2E_CLUSTER_DIR, and DIR/cluster.env holds its ports and pids (shell assignments).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CLUSTER_DIR_VAR = 'E2E_CLUSTER_DIR';

export interface Cluster {
  dir: string;
  nginxPort: number;
  /** nginx, the only address the browsers use. */
  baseURL: string;
  /** The nodes' own ports, node1 first (for /metrics and /health, never for pages). */
  nodePorts: number[];
  /** The nodes' pids, in the same order. */
  nodePids: number[];
}

/** `KEY=value` and `KEY="a b"` lines, as scripts/cluster.sh writes them; comments skipped. */
export function parseClusterEnv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let value = m[2];
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    vars[m[1]] = value;
  }
  return vars;
}

function numbers(list: string | undefined): number[] {
  return (list ?? '').split(/\s+/).filter(Boolean).map(Number);
}

/** The cluster in `dir`, or undefined while it is not up (no cluster.env, or no nginx yet). */
export function readCluster(dir = process.env[CLUSTER_DIR_VAR]): Cluster | undefined {
  if (!dir) return undefined;
  const file = join(dir, 'cluster.env');
  if (!existsSync(file)) return undefined;
  const vars = parseClusterEnv(readFileSync(file, 'utf8'));
  const nginxPort = Number(vars.NGINX_PORT);
  const nodePids = numbers(vars.NODE_PIDS);
  if (!nginxPort || !vars.NGINX_PID || nodePids.length === 0) return undefined;
  return {
    dir,
    nginxPort,
    baseURL: `http://127.0.0.1:${nginxPort}`,
    nodePorts: numbers(vars.NODE_PORTS),
    nodePids,
  };
}

/** The running cluster; throws when there is none (a test run without the cluster config). */
export function cluster(): Cluster {
  const found = readCluster();
  if (!found) {
    throw new Error(
      `no cluster in ${CLUSTER_DIR_VAR}=${process.env[CLUSTER_DIR_VAR] ?? '(unset)'}: ` +
        'run these tests with `npx playwright test -c playwright.cluster.config.ts`',
    );
  }
  return found;
}
