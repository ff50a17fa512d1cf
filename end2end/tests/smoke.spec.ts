// Whatever the build — release or debug, lesson pages split off or in the one bundle — the
// pages must hydrate. test.sh runs this file with the others against the release (split)
// build, and on its own against a debug build made without `--split`.
import { test, expect } from '@playwright/test';
import { personContext, uniqueRoom } from './helpers';

test('the wall goes live and a lesson page loads and runs, with no console error', async ({ browser }) => {
  const context = await personContext(browser, 'smoke');
  const errors: string[] = [];
  context.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  context.on('weberror', (error) => {
    // The saved name's init script runs in each new tab's about:blank too, which has no storage.
    if (error.page()?.url() !== 'about:blank') errors.push(error.error().message);
  });

  const page = await context.newPage();
  await page.goto(`/r/${uniqueRoom('smoke')}`);
  // A debug bundle is several times the size of a release one: give it time to compile.
  await expect(page.getByTestId('badge')).toHaveText(/live/, { timeout: 20_000 });

  // Into a lesson by the menu: the browser renders the route.
  await page.getByRole('link', { name: 'Speed test' }).click();
  await expect(page).toHaveURL(/\/speed$/);
  await runSpeedTest();

  // Straight to it: the server renders it and the browser hydrates it. The server leaves the
  // round-trips field empty (its value is a browser-side property), so a value means hydrated.
  await page.goto('/speed');
  await expect(page.getByTestId('speed-n')).not.toHaveValue('', { timeout: 20_000 });
  await runSpeedTest();

  expect(errors).toEqual([]);
  await context.close();

  async function runSpeedTest() {
    await page.getByTestId('speed-n').fill('20');
    await page.getByTestId('speed-run').click();
    await expect(page.getByTestId('speed-results')).toBeVisible({ timeout: 30_000 });
  }
});
