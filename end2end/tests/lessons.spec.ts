import { test, expect } from '@playwright/test';
import { openRoom, personContext, postText, uniqueRoom } from './helpers';

test('a speed test with N=200 shows numbers for every transport and a chart', async ({ page }) => {
  await page.goto('/speed');
  // Controls are disabled until the page's code has taken over (a click before would submit
  // the server-rendered form); filling them before could also be reset by hydration.
  await expect(page.getByTestId('speed-run')).toBeEnabled();
  await page.getByTestId('speed-n').fill('200');
  await page.getByTestId('speed-size').fill('32');
  await page.getByTestId('speed-run').click();
  const results = page.getByTestId('speed-results');
  await expect(results).toBeVisible({ timeout: 60_000 });
  for (const transport of ['http', 'ws', 'sse']) {
    const row = results.locator(`tr[data-transport=${transport}]`);
    await expect(row.locator('td').nth(2)).toHaveText(/^[1-9]\d*$/); // messages per second
    await expect(row.locator('td').nth(7)).toHaveText(/^\d+$/); // bytes per round trip, counted by the server
  }
  await expect(page.getByTestId('speed-headline')).toHaveText(/WebSocket: [\d.]+× the round trips per second of HTTP/);
  await expect(page.locator('[data-testid=latency-chart] polyline')).toHaveCount(3);
  await expect(page.getByTestId('speed-export')).toHaveAttribute('href', /^data:application\/json/);
  // Per round trip, an HTTP exchange carries far more header bytes than two WebSocket frames.
  const httpHeaders = Number(await results.locator('tr[data-transport=http] td').nth(8).textContent());
  const wsHeaders = Number(await results.locator('tr[data-transport=ws] td').nth(8).textContent());
  expect(wsHeaders).toBe(8);
  expect(httpHeaders).toBeGreaterThan(100);
});

test('the lab shows all four transports receiving ticks', async ({ page }) => {
  await page.goto('/lab');
  await expect(page.getByTestId('lab-start')).toBeEnabled();
  await page.getByTestId('lab-rate').selectOption('20');
  await page.getByTestId('lab-start').click();
  for (const transport of ['poll', 'longpoll', 'sse', 'ws']) {
    await expect(page.getByTestId(`ticks-${transport}`)).not.toHaveText('0', { timeout: 15_000 });
  }
  await expect(page.getByTestId('lab-chart').locator('.bar-row')).toHaveCount(4);
});

test('the inspector shows the 101 upgrade and the frames of a post made on the wall', async ({ browser }) => {
  const room = uniqueRoom('inspected');
  const wall = await openRoom(await personContext(browser, 'walt'), room);
  const page = await (await personContext(browser, 'ines')).newPage();
  await page.goto('/inspect');
  await expect(page.getByTestId('handshake-response')).toContainText('HTTP/1.1 101 Switching Protocols');
  await expect(page.getByTestId('handshake-request')).toContainText('upgrade: websocket');
  const accept = await page.getByTestId('accept-value').textContent();
  await expect(page.getByTestId('handshake-response')).toContainText(`sec-websocket-accept: ${accept}`);

  await page.getByTestId('inspect-room').fill(room);
  await page.getByTestId('inspect-join').click();
  await page.getByTestId('inspect-text').fill('seen in the inspector');
  await page.getByTestId('inspect-send').click();
  const frames = page.getByTestId('frames');
  await expect(frames.locator('tr.out', { hasText: '"type": "post"' })).toContainText('seen in the inspector');
  await expect(frames.locator('tr.in', { hasText: '"type": "ack"' })).toHaveCount(1);
  await expect(frames.locator('tr.in', { hasText: 'seen in the inspector' })).toHaveCount(1);
  await expect(postText(wall, 'seen in the inspector')).toHaveCount(1);

  await page.getByTestId('inspect-filter').fill('"ack"');
  await expect(frames.locator('tbody tr')).toHaveCount(1);
});

test('the stats page draws the server metrics live', async ({ browser }) => {
  const wall = await openRoom(await personContext(browser, 'stan'), uniqueRoom('stats'));
  const page = await browser.newPage();
  await page.goto('/stats');
  await expect(page.getByTestId('wallsocket_connections')).toHaveText(/^[1-9]\d*$/);
  const before = Number(await page.getByTestId('wallsocket_posts_total').textContent());
  const box = wall.getByTestId('composer-input');
  await box.fill('counted on the stats page');
  await box.press('Enter');
  await expect(page.getByTestId('wallsocket_posts_total')).toHaveText(String(before + 1), { timeout: 5_000 });
});

test('the wall never downloads the lessons; opening one from the menu fetches its code, and it works', async ({ browser }) => {
  const context = await personContext(browser, 'reader');
  const fetched: string[] = [];
  context.on('request', (request) => fetched.push(new URL(request.url()).pathname));
  const page = await openRoom(context, uniqueRoom('split'));
  expect(fetched.filter((path) => path.includes('_route_view_'))).toEqual([]);
  await page.getByRole('link', { name: 'Speed test' }).click();
  await expect(page).toHaveURL(/\/speed$/);
  await page.getByTestId('speed-n').fill('20');
  await page.getByTestId('speed-run').click();
  await expect(page.getByTestId('speed-results')).toBeVisible({ timeout: 60_000 });
  expect(fetched.some((path) => path.includes('split___speed_route_view_'))).toBe(true);
  await context.close();
});

test('short polling at 1 s with 5 ticks/s shows every tick and a mean delay near half the interval', async ({ page }) => {
  await page.goto('/lab');
  await expect(page.getByTestId('lab-start')).toBeEnabled();
  await page.getByTestId('lab-rate').selectOption('5');
  await page.getByTestId('lab-interval').selectOption('1000');
  await page.getByTestId('lab-start').click();
  // About 25 ticks: enough for the mean of delays spread over 0–1,000 ms to settle near 500.
  await expect(async () => {
    expect(Number(await page.getByTestId('ticks-poll').textContent())).toBeGreaterThanOrEqual(25);
  }).toPass({ timeout: 15_000 });
  for (const transport of ['poll', 'longpoll', 'sse', 'ws']) {
    await expect(page.getByTestId(`missed-${transport}`)).toHaveCount(0);
  }
  // The last tick short polling got is at most one interval (5 ticks) behind the WebSocket's.
  const ws = Number(await page.getByTestId('ticks-ws').textContent());
  const poll = Number(await page.getByTestId('ticks-poll').textContent());
  expect(poll).toBeGreaterThanOrEqual(ws - 6);
  const mean = parseFloat((await page.getByTestId('mean-poll').textContent()) ?? '');
  expect(mean).toBeGreaterThan(300);
  expect(mean).toBeLessThan(700);
});

test('the lab says what this browser supports: on Chromium, WebSocket and EventSource', async ({ page }) => {
  await page.goto('/lab');
  await expect(page.getByTestId('support-websocket')).toHaveText('supported');
  await expect(page.getByTestId('support-eventsource')).toHaveText('supported');
  await expect(page.getByTestId('support-binary-type')).toHaveText('supported');
  // Chromium offers compression in its upgrade; the answer comes from the handshake the server captured.
  await expect(page.getByTestId('support-deflate')).toHaveText('yes');
  await expect(page.getByTestId('support-wall-transport')).toContainText('WebSocket');
});

test('the inspector shows a typed message as the frame the server read: masked, then its unmasked echo', async ({ page }) => {
  await page.goto('/inspect');
  await expect(page.getByTestId('frame-send')).toBeEnabled();
  await page.getByTestId('frame-input').fill('hello, frame');
  await expect(async () => {
    // Until the page has hydrated and its lesson socket is open, a click sends nothing: retry.
    await page.getByTestId('frame-send').click();
    await expect(page.getByTestId('frame-sent-text')).toHaveText('hello, frame', { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId('frame-sent-mask')).toHaveText('1');
  await expect(page.getByTestId('frame-sent-fin')).toHaveText('1');
  await expect(page.getByTestId('frame-sent-opcode')).toHaveText('1 (text)');
  await expect(page.getByTestId('frame-echo-mask')).toHaveText('0');
  await expect(page.getByTestId('frame-echo-text')).toHaveText('hello, frame');
});
