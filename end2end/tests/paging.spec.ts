import { test, expect } from '@playwright/test';
import { openRoom, personContext, post, retryNowIfOffered, uniqueRoom } from './helpers';

test('"Older posts" pages back through history', async ({ browser }) => {
  const room = uniqueRoom('paging');
  const page = await openRoom(await personContext(browser, 'pat'), room);
  // 60 posts from a second socket opened by the page, paced under the rate limit.
  await page.evaluate(async (room) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    await new Promise((resolve) => (ws.onopen = resolve));
    let acks = 0;
    const acked = new Promise((resolve) => {
      ws.onmessage = (e) => {
        if (JSON.parse(e.data).type === 'ack' && ++acks === 60) resolve(null);
      };
    });
    ws.send(JSON.stringify({ type: 'join', room, username: 'bulk' }));
    for (let i = 1; i <= 60; i++) {
      ws.send(JSON.stringify({ type: 'post', room, text: `bulk ${i}`, client_id: `bulk-${i}` }));
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    await acked;
    ws.close();
  }, room);
  const posts = page.locator('[data-testid=posts] .post');
  await expect(posts).toHaveCount(60);

  await page.reload();
  await expect(page.getByTestId('badge')).toHaveText(/live/);
  await expect(posts).toHaveCount(50);
  await expect(posts.first()).toContainText('bulk 60');
  await expect(posts.last()).toContainText('bulk 11');
  await page.getByRole('button', { name: 'Older posts' }).click();
  await expect(posts).toHaveCount(60);
  await expect(posts.last()).toContainText('bulk 1');
  await expect(page.getByRole('button', { name: 'Older posts' })).toHaveCount(0);
});

test('the badge shows reconnecting while the socket is down; a post made meanwhile is sent once it is back', async ({ browser }) => {
  const room = uniqueRoom('offline');
  const context = await personContext(browser, 'rita');
  const page = await context.newPage();
  let blocked = true;
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (blocked) ws.close();
    else ws.connectToServer();
  });
  await page.goto(`/r/${room}`);
  await expect(page.getByTestId('badge')).toHaveText(/reconnecting/);
  await post(page, 'typed while offline');
  await expect(page.getByTestId('pending')).toContainText('typed while offline');

  blocked = false;
  await retryNowIfOffered(page);
  await expect(page.getByTestId('badge')).toHaveText(/live/, { timeout: 15_000 });
  await expect(page.locator('[data-testid=posts] .post', { hasText: 'typed while offline' })).toHaveCount(1);
  await expect(page.getByTestId('pending')).toBeEmpty();

  const bob = await openRoom(await personContext(browser, 'bob'), room);
  await expect(bob.locator('[data-testid=posts] .post', { hasText: 'typed while offline' })).toHaveCount(1);
});
