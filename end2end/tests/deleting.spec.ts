import { expect, test } from '@playwright/test';
import { openRoom, post, postText, uniqueRoom } from './helpers';

test('an author deletes a post: the other page shows "post removed" at once, and a reload never shows the text', async ({ browser }) => {
  const room = uniqueRoom('deleting');
  const stamp = Date.now().toString(36);
  const author = await openRoom(await browser.newContext(), room);
  await author.getByTestId('username-input').fill(`del${stamp}`);
  await author.getByTestId('username-input').press('Enter');
  const reader = await openRoom(await browser.newContext(), room);
  await reader.getByTestId('username-input').fill(`read${stamp}`);
  await reader.getByTestId('username-input').press('Enter');

  const text = `words to take back ${stamp}`;
  await post(author, text);
  await post(author, 'this one stays');
  await expect(postText(reader, text)).toBeVisible();
  // Only the author is offered the button.
  const onReader = reader.locator('[data-testid=posts] .post', { hasText: text });
  await expect(onReader.locator('.post-delete')).toHaveCount(0);

  await author.locator('[data-testid=posts] .post', { hasText: text }).locator('.post-delete').click();
  await expect(reader.getByTestId('post-removed')).toHaveText('post removed');
  await expect(postText(reader, text)).toHaveCount(0);
  await expect(author.getByTestId('post-removed')).toHaveCount(1);
  await expect(postText(reader, 'this one stays')).toBeVisible();

  await reader.reload();
  await expect(postText(reader, 'this one stays')).toBeVisible();
  await expect(reader.locator('body')).not.toContainText(text);
});
