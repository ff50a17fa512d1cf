import { expect, test } from '@playwright/test';
import { openRoom, post, postText, uniqueRoom } from './helpers';

test('a name is claimed by its first user: another browser is told and picks another, a second tab keeps it', async ({ browser }) => {
  const room = uniqueRoom('claims');
  const name = `kim${Date.now().toString(36)}`;

  // The first browser chooses the name: it is now this browser's.
  const first = await browser.newContext();
  const mine = await openRoom(first, room);
  await mine.getByTestId('username-input').fill(name);
  await mine.getByTestId('username-input').press('Enter');
  await post(mine, 'hello from the owner');
  await expect(postText(mine, 'hello from the owner')).toBeVisible();
  const fingerprint = (await mine.locator('[data-testid=posts] .post-fingerprint').first().textContent()) ?? '';
  expect(fingerprint).toMatch(/^#[0-9a-f]{4}$/);

  // Its second tab (same browser, same storage) posts under the name too.
  const tab = await openRoom(first, room);
  await expect(tab.getByTestId('current-username')).toHaveText(name);
  await post(tab, 'and from my second tab');
  await expect(postText(mine, 'and from my second tab')).toBeVisible();

  // Another browser trying the same name, in another case, is told and asked again.
  const other = await openRoom(await browser.newContext(), room);
  await other.getByTestId('username-input').fill(name.toUpperCase());
  await other.getByTestId('username-input').press('Enter');
  await expect(other.getByTestId('name-taken')).toContainText('is taken');
  await expect(other.getByTestId('username-input')).toBeVisible();
  await expect(other.getByTestId('composer-input')).toHaveCount(0);
  // … sees the owner's posts with the owner's fingerprint …
  await expect(other.locator('[data-testid=posts] .post-fingerprint').first()).toHaveText(fingerprint);
  // … and picks another name, under which it posts.
  await other.getByTestId('username-input').fill(`${name}-2`);
  await other.getByTestId('username-input').press('Enter');
  await expect(other.getByTestId('name-taken')).toHaveCount(0);
  await post(other, 'a different person');
  await expect(postText(mine, 'a different person')).toBeVisible();
});
