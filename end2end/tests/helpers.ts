import { Browser, BrowserContext, Page, expect } from '@playwright/test';

/** A room name no other test uses. */
export function uniqueRoom(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** A browser context whose saved username is `name`, as if chosen on an earlier visit. */
export async function personContext(browser: Browser, name: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  await context.addInitScript((n) => window.localStorage.setItem('wallsocket.username', n), name);
  return context;
}

/** Opens a room's wall and waits until its socket is live. */
export async function openRoom(context: BrowserContext, room: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`/r/${room}`);
  await expect(page.getByTestId('badge')).toHaveText(/live/);
  return page;
}

export async function post(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer-input');
  await box.fill(text);
  await box.press('Enter');
  await expect(box).toHaveValue('');
}

export function postText(page: Page, text: string) {
  return page.locator('[data-testid=posts] .post-text', { hasText: text });
}

/**
 * Presses "retry now" to skip the reconnect countdown. The page may reconnect on its own first
 * (the button then leaves the DOM), so a button that is gone within a second is not a failure:
 * the caller's next assertion on the badge is the check.
 */
export async function retryNowIfOffered(page: Page): Promise<void> {
  await page
    .getByRole('button', { name: 'retry now' })
    .click({ timeout: 1_000 })
    .catch(() => undefined);
}
