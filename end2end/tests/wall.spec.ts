import { test, expect } from '@playwright/test';
import { openRoom, personContext, post, postText, uniqueRoom } from './helpers';

test('two people in a room see each other within a second; another room sees nothing', async ({ browser }) => {
  const room = uniqueRoom('live');
  const other = uniqueRoom('elsewhere');
  const alice = await openRoom(await personContext(browser, 'alice'), room);
  const bob = await openRoom(await personContext(browser, 'bob'), room);
  const carol = await openRoom(await personContext(browser, 'carol'), other);

  await post(alice, 'hello from alice');
  await expect(postText(bob, 'hello from alice')).toBeVisible({ timeout: 1_000 });
  await post(bob, 'hi alice, bob here');
  await expect(postText(alice, 'hi alice, bob here')).toBeVisible({ timeout: 1_000 });
  // Own posts are marked as such.
  await expect(alice.locator('.post.mine', { hasText: 'hello from alice' })).toBeVisible();
  await expect(alice.locator('.post.mine', { hasText: 'hi alice, bob here' })).toHaveCount(0);

  // Carol's room stays empty; give a stray broadcast time to arrive before checking.
  await post(carol, 'carol was here');
  await expect(postText(carol, 'carol was here')).toBeVisible();
  await expect(postText(carol, 'hello from alice')).toHaveCount(0);
  await expect(postText(alice, 'carol was here')).toHaveCount(0);
});

test('history is in the server HTML: readable without JavaScript, and after a reload', async ({ browser }) => {
  const room = uniqueRoom('history');
  const alice = await openRoom(await personContext(browser, 'alice'), room);
  await post(alice, 'written before the reload');
  await expect(postText(alice, 'written before the reload')).toBeVisible();

  const html = await (await alice.request.get(`/r/${room}`)).text();
  expect(html).toContain('written before the reload');

  const noJs = await (await browser.newContext({ javaScriptEnabled: false })).newPage();
  await noJs.goto(`/r/${room}`);
  await expect(postText(noJs, 'written before the reload')).toBeVisible();

  await alice.reload();
  await expect(alice.getByTestId('badge')).toHaveText(/live/);
  await expect(postText(alice, 'written before the reload')).toHaveCount(1);
  // Posting after the reload continues the same wall, with no duplicate.
  await post(alice, 'after the reload');
  await expect(postText(alice, 'after the reload')).toHaveCount(1);
  await expect(alice.locator('[data-testid=posts] .post')).toHaveCount(2);
});

test('HTML in a post is shown as text and runs nothing', async ({ browser }) => {
  const room = uniqueRoom('xss');
  const alice = await openRoom(await personContext(browser, 'alice'), room);
  const bob = await openRoom(await personContext(browser, 'bob'), room);
  const dialogs: string[] = [];
  for (const page of [alice, bob]) page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
  const evil = '<img src=x onerror=alert(1)>';
  await post(alice, evil);
  await expect(postText(bob, evil)).toHaveText(evil);
  await bob.reload();
  await expect(postText(bob, evil)).toHaveText(evil);
  await expect(bob.locator('[data-testid=posts] img')).toHaveCount(0);
  expect(dialogs).toEqual([]);
});

test('a newcomer picks a name once, opens a room from the directory, and the name is remembered', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/');
  const room = uniqueRoom('Fresh Room');
  await page.getByTestId('username-input').fill('   ');
  await expect(page.getByRole('button', { name: 'Save' })).toBeDisabled();
  await page.getByTestId('username-input').fill('dora');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByTestId('current-username')).toHaveText('dora');
  await page.getByTestId('room-input').fill(room);
  await page.getByRole('button', { name: 'Open room' }).click();
  await expect(page).toHaveURL(new RegExp(`/r/${room.toLowerCase().replace(/ /g, '-')}$`));
  await expect(page.getByTestId('badge')).toHaveText(/live/);
  await post(page, 'first post in a fresh room');
  await expect(page.locator('.post.mine', { hasText: 'first post in a fresh room' })).toBeVisible();

  const again = await context.newPage();
  await again.goto('/');
  await expect(again.getByTestId('current-username')).toHaveText('dora');
  await expect(again.getByTestId('room-list')).toContainText(room.toLowerCase().replace(/ /g, '-'));
});

test('the post box refuses what the server would refuse, with the same message', async ({ browser }) => {
  const page = await openRoom(await personContext(browser, 'erin'), uniqueRoom('limits'));
  const box = page.getByTestId('composer-input');
  await box.fill('x'.repeat(2001));
  await expect(page.getByTestId('send')).toBeDisabled();
  await expect(page.getByTestId('composer-error')).toHaveText('post must be 1–2000 characters (after trimming spaces)');
  await box.fill('   ');
  await expect(page.getByTestId('send')).toBeDisabled();
});
