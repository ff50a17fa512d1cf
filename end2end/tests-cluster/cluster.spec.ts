// Two nodes behind nginx (round robin, no sticky sessions), sharing posts through Redis and
// PostgreSQL: run with `npx playwright test -c playwright.cluster.config.ts`, which starts
// the cluster (../cluster-setup.ts). The tests run in file order, one at a time; the last
// one kills node2, so it must stay last.
//
// Which node holds a page: for a WebSocket, the node whose /metrics counts one more open
// connection once the page is live; for SSE and long polling, the node named in the session
// id (`node2~…`) of the page's /x/send and /x/poll requests. Pages are opened until one lands
// on the node wanted, so a test never depends on where round robin happens to send it.
import { test as base, expect, BrowserContext, Page } from '@playwright/test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cluster, readCluster } from '../cluster-env';
import { personContext, post, postText, retryNowIfOffered, uniqueRoom } from '../tests/helpers';

type Transport = 'ws' | 'sse' | 'longpoll';
const TRANSPORTS: Transport[] = ['ws', 'sse', 'longpoll'];
/** The badge of a page that is live on each transport (a WebSocket shows plain "live"). */
const LIVE: Record<Transport, string> = { ws: 'live', sse: 'live · sse', longpoll: 'live · longpoll' };
/** Pages opened at most to get one onto a given node. */
const MAX_TRIES = 10;

const test = base.extend<{ person: (name: string) => Promise<BrowserContext> }>({
  // A context per person, closed after the test, so no page of one test stays connected
  // during the next (the node-loss test counts connections).
  person: async ({ browser }, use) => {
    const contexts: BrowserContext[] = [];
    await use(async (name) => {
      const context = await personContext(browser, name);
      contexts.push(context);
      return context;
    });
    for (const context of contexts) await context.close().catch(() => undefined);
  },
});

// A failed test carries the nodes' and nginx's logs (teardown removes the cluster directory).
test.afterEach(async ({}, testInfo) => {
  const found = readCluster();
  if (testInfo.status === testInfo.expectedStatus || !found) return;
  const { dir, nodePorts } = found;
  const logs = nodePorts.map((_, i) => `node${i + 1}.log`).concat('nginx/logs/error.log');
  for (const log of logs) {
    const file = join(dir, log);
    if (existsSync(file)) await testInfo.attach(log.replace(/\//g, '-'), { path: file, contentType: 'text/plain' });
  }
});

function roomPath(room: string, transport: Transport): string {
  return transport === 'ws' ? `/r/${room}` : `/r/${room}?transport=${transport}`;
}

/** Open WebSockets (and fallback sessions) on each node, node1 first, from its /metrics. */
async function connections(): Promise<number[]> {
  return Promise.all(
    cluster().nodePorts.map(async (port) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const m = /^wallsocket_connections(?:\{[^}]*\})?\s+(\d+)/m.exec(text);
      if (!m) throw new Error(`no wallsocket_connections in the /metrics of 127.0.0.1:${port}`);
      return Number(m[1]);
    }),
  );
}

const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls `check` every 100 ms for up to `ms`; true as soon as it holds. */
async function within(ms: number, check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
}

/**
 * The node (1-based) that gained a connection since `before`, or undefined when none did
 * within 5 s or more than one did (a fallback session of an earlier test expiring on the same
 * node at the same time hides the gain: the caller tries another page).
 */
async function nodeThatGained(before: number[]): Promise<number | undefined> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    const now = await connections();
    const gained = now.flatMap((n, i) => (n > before[i] ? [i + 1] : []));
    if (gained.length === 1) return gained[0];
    if (gained.length > 1) return undefined;
    await sleep(100);
  }
  return undefined;
}

/** Every fallback session id the page's requests carried, oldest first (`nodeN~…`). */
function trackSessions(page: Page): string[] {
  const sessions: string[] = [];
  page.on('request', (request) => {
    const session = new URL(request.url()).searchParams.get('session');
    if (session) sessions.push(session);
  });
  return sessions;
}

function nodeOfSession(session: string | undefined): number | undefined {
  const m = /^node(\d+)~/.exec(session ?? '');
  return m ? Number(m[1]) : undefined;
}

interface Placed {
  page: Page;
  /** The fallback sessions the page used so far, and will use. */
  sessions: string[];
}

/**
 * Opens `room` through nginx for `name` over `transport`, live, with its connection (or
 * fallback session) held by node `want` (1-based): pages that land elsewhere are closed and
 * another is opened, in a new context, so that new connections meet nginx's round robin anew.
 */
async function openOnNode(
  person: (name: string) => Promise<BrowserContext>,
  name: string,
  room: string,
  transport: Transport,
  want: number,
): Promise<Placed> {
  const landed: (number | undefined)[] = [];
  for (let attempt = 1; attempt <= MAX_TRIES; attempt++) {
    const context = await person(name);
    const page = await context.newPage();
    const sessions = trackSessions(page);
    const before = transport === 'ws' ? await connections() : [];
    // Every other try, one more request first: it moves nginx's round robin on by one.
    if (attempt % 2 === 0) await page.goto('/health');
    await page.goto(roomPath(room, transport));
    await expect(page.getByTestId('badge')).toHaveText(LIVE[transport], { timeout: 20_000 });
    let node: number | undefined;
    if (transport === 'ws') {
      node = await nodeThatGained(before);
    } else {
      // The join goes out in a /x/send carrying the session before the page shows live.
      await expect.poll(() => sessions.length, { message: `${name}'s page used no session` }).toBeGreaterThan(0);
      node = nodeOfSession(sessions[sessions.length - 1]);
    }
    if (node === want) return { page, sessions };
    landed.push(node);
    await context.close();
    if (transport === 'ws') {
      // Let the closed socket leave the counts before the next page is measured.
      await within(5_000, async () => sum(await connections()) <= sum(before));
    }
  }
  throw new Error(`no ${transport} page of ${name} landed on node${want} in ${MAX_TRIES} tries (landed on: ${landed.join(', ')})`);
}

/** Waits until the page is live again, pressing "retry now" whenever it waits in a countdown. */
async function untilLive(page: Page, text: string | RegExp, timeout = 45_000): Promise<void> {
  await expect(async () => {
    await retryNowIfOffered(page);
    await expect(page.getByTestId('badge')).toHaveText(text, { timeout: 2_000 });
  }).toPass({ timeout });
}

/** Each text shows exactly once on each page. */
async function eachShownOnce(pages: Page[], texts: string[]): Promise<void> {
  for (const page of pages) {
    for (const text of texts) await expect(postText(page, text), `"${text}" once on ${page.url()}`).toHaveCount(1);
  }
}

for (const transport of TRANSPORTS) {
  test(`two people on different nodes see each other's posts over ${transport}, through nginx`, async ({ person }) => {
    const room = uniqueRoom(`cluster-${transport}`);
    const ann = await openOnNode(person, 'ann', room, transport, 1);
    const ben = await openOnNode(person, 'ben', room, transport, 2);
    for (const { page } of [ann, ben]) await expect(page.getByTestId('badge')).toHaveText(LIVE[transport]);

    await post(ann.page, `ann on node1 over ${transport}`);
    await post(ben.page, `ben on node2 over ${transport}`);
    await eachShownOnce([ann.page, ben.page], [`ann on node1 over ${transport}`, `ben on node2 over ${transport}`]);
    for (const { page } of [ann, ben]) await expect(page.getByTestId('pending')).toBeEmpty();
    // The requests of a fallback session went to either node (round robin), and the session's
    // node answered them all: each page kept the one session it opened.
    if (transport !== 'ws') {
      for (const [name, placed] of [['ann', ann], ['ben', ben]] as const) {
        expect(new Set(placed.sessions).size, `${name} used one session: ${[...new Set(placed.sessions)].join(', ')}`).toBe(1);
      }
    }
  });
}

// Last: after it node2 is gone for good (teardown's `down` copes with that).
test('node2 killed with SIGKILL: its pages reconnect through nginx to node1 and lose nothing, duplicate nothing', async ({ person }) => {
  test.setTimeout(240_000);
  const { nodePids, nodePorts } = cluster();
  const pid = nodePids[1];
  // Never signal anything but node2 itself.
  const cmdline = existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') : [];
  expect(cmdline, `pid ${pid} is node2 and alive (a fresh cluster is needed for this test)`).toEqual(
    expect.arrayContaining(['--node-name', 'node2']),
  );

  const room = uniqueRoom('node-loss');
  const sam = await openOnNode(person, 'sam', room, 'ws', 1); // stays up
  const vic = await openOnNode(person, 'vic', room, 'ws', 2); // loses its node
  const sue = await openOnNode(person, 'sue', room, 'sse', 2); // its session's node dies
  const pol = await openOnNode(person, 'pol', room, 'longpoll', 2); // likewise
  const pages = [sam.page, vic.page, sue.page, pol.page];

  const before = ['sam before the kill', 'vic before the kill', 'sue before the kill', 'pol before the kill'];
  for (const [i, page] of pages.entries()) await post(page, before[i]);
  await eachShownOnce(pages, before);

  const sessionsBefore = { sue: sue.sessions.length, pol: pol.sessions.length };
  process.kill(pid, 'SIGKILL');

  // Written at once, while the pages of node2 notice and reconnect (or just before they notice).
  const during = ['vic typed this as node2 died', 'sue typed this as node2 died', 'pol typed this as node2 died', 'sam posted while the others were away'];
  await post(vic.page, during[0]);
  await post(sue.page, during[1]);
  await post(pol.page, during[2]);
  await post(sam.page, during[3]);

  await expect
    .poll(() => fetch(`http://127.0.0.1:${nodePorts[1]}/health`).then(() => 'up', () => 'down'), { message: 'node2 is gone' })
    .toBe('down');
  await untilLive(vic.page, /^live/); // a WebSocket, unless it fell back after failed tries
  await untilLive(sue.page, LIVE.sse);
  await untilLive(pol.page, LIVE.longpoll);
  await expect(sam.page.getByTestId('badge')).toHaveText(LIVE.ws);

  // Nothing lost, nothing twice, nothing left waiting.
  await eachShownOnce(pages, [...before, ...during]);
  for (const page of pages) await expect(page.getByTestId('pending')).toBeEmpty();
  // The fallback pages opened new sessions, on node1, the only node left.
  for (const [name, placed] of [['sue', sue], ['pol', pol]] as const) {
    await expect
      .poll(() => placed.sessions.slice(sessionsBefore[name]).map(nodeOfSession), { message: `${name} opened a session on node1` })
      .toContain(1);
  }

  // And the room goes on: posts after the reconnects reach everyone, once.
  const after = ['sam after the reconnects', 'vic after the reconnects', 'sue after the reconnects', 'pol after the reconnects'];
  for (const [i, page] of pages.entries()) await post(page, after[i]);
  await eachShownOnce(pages, after);

  // Stored once: a reload (rendered by node1) shows each post once.
  const all = [...before, ...during, ...after];
  for (const page of pages) {
    await page.reload();
    await expect(page.getByTestId('badge')).toHaveText(/^live/, { timeout: 20_000 });
  }
  await eachShownOnce(pages, all);
});
