import { Browser, BrowserContext, Page, expect, test } from '@playwright/test';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A room name no other test uses. */
export function uniqueRoom(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/**
 * The secrets of the names the tests' people hold, by lowercased name: in a file beside the
 * run's database, since Playwright starts a new worker after a failed test and one server
 * serves the whole run.
 */
function claimsFile(): string {
  const dir = process.env.E2E_DB_DIR ?? process.env.E2E_CLUSTER_DIR ?? tmpdir();
  return join(dir, 'claims.json');
}

function savedClaims(): Record<string, string> {
  return existsSync(claimsFile()) ? JSON.parse(readFileSync(claimsFile(), 'utf8')) : {};
}

/**
 * The secret of `name`'s claim: the server issues it to the first join under the name, here
 * over long polling (plain fetch), so every context of this person can hold it, as every tab
 * of one browser does.
 */
async function claimOf(name: string): Promise<string> {
  const known = savedClaims()[name.toLowerCase()];
  if (known) return known;
  const base = test.info().project.use.baseURL;
  const [hello] = await (await fetch(`${base}/x/poll`)).json();
  const send = `${base}/x/send?session=${hello.session}`;
  const joinMsg = JSON.stringify({ type: 'join', room: 'claims', username: name });
  const refused = await (await fetch(send, { method: 'POST', body: joinMsg })).json();
  expect(refused, `claiming ${name}`).toEqual([]);
  const answers: { type: string; claim?: string }[] = await (await fetch(`${base}/x/poll?session=${hello.session}`)).json();
  const claimed = answers.find((m) => m.type === 'claimed');
  if (!claimed?.claim) throw new Error(`no claim issued for ${name}: ${JSON.stringify(answers)}`);
  writeFileSync(claimsFile(), JSON.stringify({ ...savedClaims(), [name.toLowerCase()]: claimed.claim }));
  return claimed.claim;
}

/** A browser context whose saved username is `name` (and its claim), as if chosen on an earlier visit. */
export async function personContext(browser: Browser, name: string): Promise<BrowserContext> {
  const claim = await claimOf(name);
  const context = await browser.newContext();
  await context.addInitScript(
    ([n, c]) => {
      window.localStorage.setItem('wallsocket.username', n);
      window.localStorage.setItem(`wallsocket.claim.${n.toLowerCase()}`, c);
    },
    [name, claim],
  );
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
