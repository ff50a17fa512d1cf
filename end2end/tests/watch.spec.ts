import { test, expect, Page } from '@playwright/test';
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

/** Posts `count` posts to `room` from sockets the page opens (each well inside its burst). */
async function bulkPost(page: Page, room: string, count: number): Promise<number> {
  return page.evaluate(
    async ({ room, count }) => {
      const perSocket = 20;
      let maxSeq = 0;
      const sockets = Array.from({ length: Math.ceil(count / perSocket) }, async (_, s) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        await new Promise((resolve, reject) => {
          ws.onopen = resolve;
          ws.onerror = reject;
        });
        const n = Math.min(perSocket, count - s * perSocket);
        let acks = 0;
        const done = new Promise((resolve, reject) => {
          ws.onmessage = (e) => {
            const msg = JSON.parse(e.data);
            if (msg.type === 'error') reject(new Error(`socket ${s}: ${msg.code} ${msg.message}`));
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
        }
        await done;
        ws.close();
      });
      await Promise.all(sockets);
      return maxSeq;
    },
    { room, count },
  );
}

test('the projector page shows posts live, a QR code of the room address, and a bounded page after 2,000 posts', async ({ browser }) => {
  test.setTimeout(120_000);
  const room = uniqueRoom('projector');
  const projector = await (await browser.newContext({ viewport: { width: 1280, height: 720 } })).newPage();
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

  // 2,000 more from sockets of a page outside the room (a wall page would render them all).
  await alice.close();
  const bulk = await browser.newPage();
  await bulk.goto('/');
  const maxSeq = await bulkPost(bulk, room, 2_000);
  expect(maxSeq).toBe(2_001);
  await expect(shown.first()).toHaveAttribute('data-seq', '2001', { timeout: 30_000 });
  await expect(shown).toHaveCount(12);
  // The page itself stays small: no post node beyond the dozen shown.
  expect(await projector.locator('[data-seq]').count()).toBe(12);
});
