import { test, expect, Page } from '@playwright/test';
import { openRoom, personContext, post, postText, retryNowIfOffered, uniqueRoom } from './helpers';

/** Cuts (or restores) every real-time path of one page: the WebSocket and the HTTP fallbacks. */
async function cutOff(page: Page, state: { down: boolean }) {
  await page.routeWebSocket(/\/ws$/, (ws) => {
    if (state.down) ws.close();
    else ws.connectToServer();
  });
  await page.route(/\/x\//, (route) => (state.down ? route.abort() : route.continue()));
}

test('with WebSockets blocked the page falls back to SSE, and posts and receives', async ({ browser }) => {
  const room = uniqueRoom('fallback');
  const context = await personContext(browser, 'sasha');
  const page = await context.newPage();
  await page.routeWebSocket(/\/ws$/, (ws) => ws.close());
  await page.goto(`/r/${room}`);
  await expect(page.getByTestId('badge')).toHaveText(/live · sse/, { timeout: 20_000 });

  const other = await openRoom(await personContext(browser, 'wes'), room);
  await post(other, 'sent over a websocket');
  await expect(postText(page, 'sent over a websocket')).toBeVisible();
  await post(page, 'sent over sse and post');
  await expect(postText(other, 'sent over sse and post')).toHaveCount(1);
  await expect(page.getByTestId('pending')).toBeEmpty();
});

test('?transport=longpoll forces long polling, which posts and receives', async ({ browser }) => {
  const room = uniqueRoom('longpoll');
  const page = await (await personContext(browser, 'lola')).newPage();
  await page.goto(`/r/${room}?transport=longpoll`);
  await expect(page.getByTestId('badge')).toHaveText('live · longpoll');
  const other = await openRoom(await personContext(browser, 'wes'), room);
  await post(other, 'hello poller');
  await expect(postText(page, 'hello poller')).toBeVisible();
  await post(page, 'hello from a long poll');
  await expect(postText(other, 'hello from a long poll')).toHaveCount(1);
});

test('a post made while cut off survives a reload and arrives exactly once when the network returns', async ({ browser }) => {
  const room = uniqueRoom('outage');
  const other = await openRoom(await personContext(browser, 'olga'), room);
  const page = await openRoom(await personContext(browser, 'otto'), room);
  const net = { down: true };
  await cutOff(page, net);
  await page.reload();
  await expect(page.getByTestId('badge')).toHaveText(/reconnecting/);
  await post(page, 'written offline');
  await expect(page.getByTestId('pending')).toContainText('written offline');

  await page.reload();
  await expect(page.getByTestId('pending')).toContainText('written offline');
  await expect(postText(other, 'written offline')).toHaveCount(0);

  net.down = false;
  await retryNowIfOffered(page);
  await expect(page.getByTestId('badge')).toHaveText(/live/, { timeout: 20_000 });
  await expect(postText(other, 'written offline')).toHaveCount(1);
  await expect(postText(page, 'written offline')).toHaveCount(1);
  await expect(page.getByTestId('pending')).toBeEmpty();
  // Exactly once, even after the page settles and reloads.
  await page.reload();
  await expect(postText(page, 'written offline')).toHaveCount(1);
});

test('a post whose ack is lost is retried on a new connection and stored once', async ({ browser }) => {
  const room = uniqueRoom('lost-ack');
  const other = await openRoom(await personContext(browser, 'olga'), room);
  const context = await personContext(browser, 'ada');
  const page = await context.newPage();
  const net = { swallowReplies: false };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => {
      if (!net.swallowReplies) ws.send(message);
    });
  });
  await page.goto(`/r/${room}`);
  await expect(page.getByTestId('badge')).toHaveText(/live/);

  net.swallowReplies = true;
  await post(page, 'my ack gets lost');
  await expect(postText(other, 'my ack gets lost')).toHaveCount(1);
  await expect(page.getByTestId('pending')).toContainText('my ack gets lost');
  net.swallowReplies = false;

  // No ack within 10 s: the page reconnects, re-sends, and the server recognises the retry.
  await expect(page.getByTestId('pending')).toBeEmpty({ timeout: 20_000 });
  await expect(postText(page, 'my ack gets lost')).toHaveCount(1);
  await expect(postText(other, 'my ack gets lost')).toHaveCount(1);
  await other.reload();
  await expect(postText(other, 'my ack gets lost')).toHaveCount(1);
});
