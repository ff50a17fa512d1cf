import { test, expect, Page, WebSocketRoute } from '@playwright/test';
import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { openRoom, personContext, post, postText, uniqueRoom } from './helpers';

test('a visitor without a name watches live: posts made elsewhere appear and the watcher count moves', async ({ browser }) => {
  const room = uniqueRoom('watch');
  const alice = await openRoom(await personContext(browser, 'alice'), room);
  await expect(alice.getByTestId('members')).toHaveText('1 person here');

  // A fresh browser: no saved name.
  const watcher = await (await browser.newContext()).newPage();
  await watcher.goto(`/r/${room}`);
  await expect(watcher.getByTestId('badge')).toHaveText(/live/);
  await expect(watcher.getByText('You are watching live')).toBeVisible();
  await expect(watcher.getByTestId('composer-input')).toHaveCount(0);
  await expect(alice.getByTestId('members')).toHaveText('1 person here · 1 watching');
  await expect(watcher.getByTestId('presence').locator('li')).toHaveText(['alice']);

  await alice.getByTestId('composer-input').pressSequentially('hello', { delay: 30 });
  await expect(watcher.getByTestId('typing')).toHaveText('alice is typing…');
  await post(alice, 'hello watchers');
  await expect(postText(watcher, 'hello watchers')).toBeVisible();

  // Choosing a name turns the watcher into a poster, without a reload.
  await watcher.getByTestId('username-input').fill('wendy');
  await watcher.getByTestId('username-input').press('Enter');
  await expect(alice.getByTestId('members')).toHaveText('2 people here');
  await post(watcher, 'now I can post');
  await expect(postText(alice, 'now I can post')).toBeVisible();
  await watcher.close();
  await expect(alice.getByTestId('members')).toHaveText('1 person here');
});

/**
 * Posts `count` posts to `room` from ten sockets the page opens, each paced under the rate
 * limit (its burst, then one every 60 ms). Every socket also receives every post: few sockets
 * keep that load small. A socket closed or refused fails the test at once.
 */
async function bulkPost(page: Page, room: string, count: number): Promise<number> {
  return page.evaluate(
    async ({ room, count }) => {
      const sockets = 10;
      const perSocket = Math.ceil(count / sockets);
      let maxSeq = 0;
      const runs = Array.from({ length: sockets }, async (_, s) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = () => reject(new Error(`socket ${s} did not open`));
        });
        const n = Math.min(perSocket, count - s * perSocket);
        let acks = 0;
        const done = new Promise((resolve, reject) => {
          ws.onclose = (e) => reject(new Error(`socket ${s} closed with ${e.code} after ${acks} acks`));
          ws.onmessage = (e) => {
            const msg = JSON.parse(e.data);
            // Timers can bunch up on a busy machine: a post refused for the rate goes again
            // after a pause, as a polite client's would; any other refusal fails the test.
            if (msg.type === 'error' && msg.code === 'rate_limited' && msg.client_id) {
              const k = msg.client_id.slice('bulk-'.length);
              setTimeout(() => ws.send(JSON.stringify({ type: 'post', room, text: `bulk ${k}`, client_id: msg.client_id })), 1_000);
            } else if (msg.type === 'error') reject(new Error(`socket ${s}: ${msg.code} ${msg.message}`));
            if (msg.type === 'ack') {
              maxSeq = Math.max(maxSeq, msg.seq);
              if (++acks === n) resolve(null);
            }
          };
        });
        ws.send(JSON.stringify({ type: 'join', room, username: `bulk${s}` }));
        for (let i = 0; i < n; i++) {
          const k = s * perSocket + i + 1;
          ws.send(JSON.stringify({ type: 'post', room, text: `bulk ${k}`, client_id: `bulk-${k}` }));
          if (i >= 30) await new Promise((resolve) => setTimeout(resolve, 60));
        }
        await done;
        ws.onclose = null;
        ws.close();
      });
      await Promise.all(runs);
      return maxSeq;
    },
    { room, count },
  );
}

test('the projector page shows posts live, a QR code of the room address, and a bounded page after 2,000 posts', async ({ browser }) => {
  test.setTimeout(120_000);
  const room = uniqueRoom('projector');
  const projector = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
  // The projector's socket passes through the test, which can cut it.
  let socket: WebSocketRoute | undefined;
  let blocked = false;
  await projector.routeWebSocket(/\/ws$/, (ws) => {
    if (blocked) return ws.close();
    socket = ws;
    ws.connectToServer();
  });
  await projector.goto(`/r/${room}/wall`);
  await expect(projector.getByTestId('projector-conn')).toHaveText('');
  await expect(projector.getByTestId('projector-counts')).toHaveText('1 watching');
  await expect(projector.getByRole('navigation')).toHaveCount(0);

  // The QR code, decoded from what the page shows, is the room's address; the text beside it too.
  const address = `${new URL(projector.url()).origin}/r/${room}`;
  const png = PNG.sync.read(await projector.getByTestId('projector-qr').screenshot());
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  expect(decoded?.data).toBe(address);
  await expect(projector.getByTestId('projector-url')).toHaveText(address.replace(/^https?:\/\//, ''));

  const alice = await openRoom(await personContext(browser, 'alice'), room);
  await expect(projector.getByTestId('projector-counts')).toHaveText('1 here · 1 watching');
  await post(alice, 'hello, hall');
  const shown = projector.locator('[data-testid=projector-posts] .projector-post');
  await expect(shown.first()).toContainText('hello, hall');

  // The connection drops: a hint says so in the header, beside the posts, never over them;
  // a post made meanwhile arrives once it is back.
  blocked = true;
  socket!.close();
  const hint = projector.getByTestId('projector-conn');
  await expect(hint).toHaveText(/reconnecting/);
  const [hintBox, postsBox] = [await hint.boundingBox(), await projector.getByTestId('projector-posts').boundingBox()];
  expect(hintBox!.y + hintBox!.height).toBeLessThanOrEqual(postsBox!.y);
  await expect(shown.first()).toContainText('hello, hall');
  await post(alice, 'made while the projector was away');
  blocked = false;
  await expect(shown.first()).toContainText('made while the projector was away', { timeout: 15_000 });
  await expect(hint).toHaveText('');

  // 2,000 more from sockets of a page outside the room (a wall page would render them all).
  await alice.close();
  const bulk = await browser.newPage();
  await bulk.goto('/');
  const maxSeq = await bulkPost(bulk, room, 2_000);
  expect(maxSeq).toBe(2_002);
  await expect(shown.first()).toHaveAttribute('data-seq', '2002', { timeout: 30_000 });
  await expect(shown).toHaveCount(12);
  // The page itself stays small: no post node beyond the dozen shown.
  expect(await projector.locator('[data-seq]').count()).toBe(12);
});
