import { test, expect, Page, WebSocketRoute } from '@playwright/test';
import { openRoom, personContext, post, postText, retryNowIfOffered, uniqueRoom } from './helpers';

// A join that fails, goes unanswered, or is forgotten by the server must never cost a post:
// the page reconnects (or joins again), and every post typed meanwhile is stored exactly once.
// The faults are injected between the page and the real server with WebSocket routing.

type Frame = { type: string; [field: string]: unknown };

/** What one page's proxied connections carried. */
type Wire = {
  /** `join`s the page sent, forwarded or not. */
  joins: number;
  /** Posts the page sent on a connection before that connection received `joined`. */
  postsBeforeJoined: string[];
};

/**
 * Routes the page's `/ws` through a proxy that hands each `join` to `onJoin`, which answers it
 * itself (returns true) or lets it through (false); everything else is forwarded both ways.
 */
async function proxy(page: Page, onJoin: (ws: WebSocketRoute, join: Frame, n: number) => boolean): Promise<Wire> {
  const wire: Wire = { joins: 0, postsBeforeJoined: [] };
  await page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    let joined = false;
    server.onMessage((message) => {
      if ((JSON.parse(message.toString()) as Frame).type === 'joined') joined = true;
      ws.send(message);
    });
    ws.onMessage((message) => {
      const frame = JSON.parse(message.toString()) as Frame;
      if (frame.type === 'join') {
        wire.joins += 1;
        if (onJoin(ws, frame, wire.joins)) return;
      }
      if (frame.type === 'post' && !joined) wire.postsBeforeJoined.push(String(frame.text));
      server.send(message);
    });
  });
  return wire;
}

/** Each text is on both walls once, nothing is pending, and a reload (from the store) agrees. */
async function storedOnce(page: Page, other: Page, texts: string[]) {
  for (const text of texts) {
    await expect(postText(other, text), `"${text}" reached the other page once`).toHaveCount(1);
    await expect(postText(page, text), `"${text}" is on the author's wall once`).toHaveCount(1);
  }
  await expect(page.getByTestId('pending')).toBeEmpty();
  await other.reload();
  await expect(other.getByTestId('badge')).toHaveText(/live/);
  for (const text of texts) {
    await expect(postText(other, text), `"${text}" is stored once`).toHaveCount(1);
  }
}

test('posts typed after a join answered with an error are stored exactly once when the server recovers', async ({ browser }) => {
  const room = uniqueRoom('join-error');
  const other = await openRoom(await personContext(browser, 'olga'), room);
  const page = await (await personContext(browser, 'jules')).newPage();
  const fault = { refuseJoins: true };
  const wire = await proxy(page, (ws) => {
    if (!fault.refuseJoins) return false;
    ws.send(JSON.stringify({ type: 'error', code: 'internal', message: 'injected: could not join the room' }));
    return true;
  });
  await page.goto(`/r/${room}`);
  await expect.poll(() => wire.joins, { message: 'the first join was sent (and refused)' }).toBeGreaterThan(0);

  const texts = ['typed after a failed join 1', 'typed after a failed join 2', 'typed after a failed join 3'];
  for (const text of texts) await post(page, text);
  for (const text of texts) await expect(page.getByTestId('pending')).toContainText(text);
  await expect(page.getByTestId('badge')).not.toHaveText(/live/);

  // The server recovers: the next join goes through.
  fault.refuseJoins = false;
  await retryNowIfOffered(page);
  await expect(page.getByTestId('badge'), 'live again after the server recovers').toHaveText(/live/, { timeout: 20_000 });
  await storedOnce(page, other, texts);
  expect(wire.postsBeforeJoined, 'no post was sent before its connection was joined').toEqual([]);
});

test('a post answered not_joined makes the page join again, and the post is stored once', async ({ browser }) => {
  const room = uniqueRoom('not-joined');
  const other = await openRoom(await personContext(browser, 'olga'), room);
  const page = await (await personContext(browser, 'nadia')).newPage();
  // The first join never reaches the server, but the page is told it worked: the server then
  // answers the page's post with `not_joined`.
  const wire = await proxy(page, (ws, join, n) => {
    if (n > 1) return false;
    ws.send(JSON.stringify({ type: 'joined', room: join.room, history: [], members: 1, present: [join.username], truncated: false }));
    return true;
  });
  await page.goto(`/r/${room}`);
  await expect(page.getByTestId('badge')).toHaveText(/live/);

  await post(page, 'posted while the server forgot me');
  await expect.poll(() => wire.joins, { message: 'the page joined again after not_joined' }).toBe(2);
  await storedOnce(page, other, ['posted while the server forgot me']);
});

test('a join left unanswered for 10 s counts as a lost connection; posts typed meanwhile are stored once', async ({ browser }) => {
  test.setTimeout(60_000);
  const room = uniqueRoom('join-silent');
  const other = await openRoom(await personContext(browser, 'olga'), room);
  const page = await (await personContext(browser, 'sid')).newPage();
  // The first join is swallowed: neither forwarded nor answered.
  const wire = await proxy(page, (_ws, _join, n) => n === 1);
  await page.goto(`/r/${room}`);
  await expect.poll(() => wire.joins, { message: 'the first join was sent (and swallowed)' }).toBe(1);
  await post(page, 'typed while the join hangs');
  await expect(page.getByTestId('pending')).toContainText('typed while the join hangs');

  await expect.poll(() => wire.joins, { message: 'the page joined again on a new connection', timeout: 25_000 }).toBe(2);
  await expect(page.getByTestId('badge')).toHaveText(/live/, { timeout: 20_000 });
  await storedOnce(page, other, ['typed while the join hangs']);
  expect(wire.postsBeforeJoined, 'no post was sent before its connection was joined').toEqual([]);
});
