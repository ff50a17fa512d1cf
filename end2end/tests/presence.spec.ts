import { test, expect } from '@playwright/test';
import { openRoom, personContext, uniqueRoom } from './helpers';

test('two pages see each other in the presence list; closing one removes that person', async ({ browser }) => {
  const room = uniqueRoom('presence');
  const alice = await openRoom(await personContext(browser, 'alice'), room);
  await expect(alice.getByTestId('presence')).toHaveText('alice');
  const bobContext = await personContext(browser, 'bob');
  const bob = await openRoom(bobContext, room);
  await expect(bob.getByTestId('presence').locator('li')).toHaveText(['alice', 'bob']);
  await expect(alice.getByTestId('presence').locator('li')).toHaveText(['alice', 'bob']);
  await expect(alice.getByTestId('notices')).toContainText('bob joined');
  await expect(alice.getByTestId('members')).toHaveText('2 people here');

  // A second tab of bob's is still one bob.
  const bobTab2 = await openRoom(bobContext, room);
  await expect(bobTab2.getByTestId('presence').locator('li')).toHaveText(['alice', 'bob']);
  await bobTab2.close();
  await expect(alice.getByTestId('members')).toHaveText('2 people here');

  await bob.close();
  await expect(alice.getByTestId('presence').locator('li')).toHaveText(['alice']);
  await expect(alice.getByTestId('notices')).toContainText('bob left');
});

test('typing in one page shows the indicator in the other, and it disappears on its own', async ({ browser }) => {
  const room = uniqueRoom('typing');
  const alice = await openRoom(await personContext(browser, 'alice'), room);
  const bob = await openRoom(await personContext(browser, 'bob'), room);
  await expect(alice.getByTestId('presence').locator('li')).toHaveText(['alice', 'bob']);

  await alice.getByTestId('composer-input').pressSequentially('hello b', { delay: 30 });
  await expect(bob.getByTestId('typing')).toHaveText('alice is typing…');
  await expect(alice.getByTestId('typing')).toHaveText('');
  // No more keystrokes: the indicator expires after about four seconds.
  await expect(bob.getByTestId('typing')).toHaveText('', { timeout: 8_000 });
});
