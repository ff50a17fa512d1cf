import { expect, test } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { openRoom, post, postText, uniqueRoom } from './helpers';

/** Runs `wallsocket moderator add NAME` on the test server's database: the secret it prints. */
function addModerator(name: string): string {
  const server = process.env.E2E_SERVER ?? '../target/release/wallsocket';
  const db = `sqlite://${process.env.E2E_DB_DIR}/e2e.db`;
  return execFileSync(server, ['moderator', 'add', name, '--database-url', db]).toString().trim();
}

test('a moderator signs in on /moderate, deletes and blocks on a wall, and reads it all in the audit log', async ({ browser }) => {
  const room = uniqueRoom('moderating');
  const stamp = Date.now().toString(36);
  const secret = addModerator(`mod${stamp}`);

  const author = await openRoom(await browser.newContext(), room);
  await author.getByTestId('username-input').fill(`spam${stamp}`);
  await author.getByTestId('username-input').press('Enter');
  await post(author, `buy now ${stamp}`);
  await post(author, `and again ${stamp}`);

  const moderatorContext = await browser.newContext();
  const desk = await moderatorContext.newPage();
  await desk.goto('/moderate');
  // A wrong secret is refused, and not kept.
  await desk.getByTestId('moderator-secret').fill('0'.repeat(64));
  await desk.getByTestId('moderator-sign-in').click();
  await expect(desk.getByTestId('sign-in-refused')).toContainText('not a moderator');
  await desk.reload();
  await expect(desk.getByTestId('moderator-secret')).toBeVisible();
  await desk.getByTestId('moderator-secret').fill(secret);
  await desk.getByTestId('moderator-sign-in').click();
  await expect(desk.getByTestId('moderating')).toContainText('Signed in');
  await expect(desk.getByText('Nothing yet.')).toBeVisible();

  // The wall, in the same browser: every post has Delete and Block author.
  const wall = await openRoom(moderatorContext, room);
  const spam = wall.locator('[data-testid=posts] .post', { hasText: `buy now ${stamp}` });
  await spam.locator('.post-delete', { hasText: 'Delete' }).click();
  await expect(postText(author, `buy now ${stamp}`)).toHaveCount(0);
  await expect(author.getByTestId('post-removed')).toHaveCount(1);
  await wall.locator('[data-testid=posts] .post', { hasText: `and again ${stamp}` }).locator('.post-block').click();
  await expect(wall.getByRole('alert').filter({ hasText: 'may not post' })).toBeVisible();
  await post(author, `still trying ${stamp}`);
  await expect(author.getByTestId('pending')).toContainText('blocked you from posting');

  await desk.reload();
  const audit = desk.getByTestId('audit');
  await expect(audit).toContainText('delete');
  await expect(audit).toContainText('block_claim');
  await desk.getByTestId('block-address').fill('203.0.113.7');
  await desk.getByTestId('block-address').press('Enter');
  await expect(desk.getByTestId('block-result')).toContainText('Blocked');
  await expect(audit).toContainText('203.0.113.7');
});
