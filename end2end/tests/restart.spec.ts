import { expect, Page, test } from '@playwright/test';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueRoom } from './helpers';

/** A loopback port nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A server of its own (this test stops it), on `port` and the database in `dir`; resolves once it answers. */
async function startServer(port: number, dir: string): Promise<ChildProcess> {
  const bin = process.env.E2E_SERVER ?? '../target/release/wallsocket';
  const site = process.env.E2E_SITE_ROOT ?? '../target/site';
  const db = `sqlite://${dir}/restart.db`;
  const child = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--database-url', db, '--site-root', site, '--log', 'warn'], {
    stdio: 'ignore',
  });
  const failed = new Promise<never>((_, reject) => child.once('error', reject));
  const up = expect
    .poll(async () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false), { timeout: 15_000 })
    .toBe(true);
  try {
    await Promise.race([up, failed]);
  } catch (e) {
    await stopServer(child);
    throw e;
  }
  return child;
}

/** SIGTERM (the server drains and says goodbye), then SIGKILL if it is still there after 10 s. */
async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const late = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(late);
}

/** Posts `text` to `room` from a socket of its own under a fresh name; resolves with its seq. */
async function postFrom(page: Page, room: string, name: string, text: string): Promise<number> {
  return page.evaluate(
    ({ room, name, text }) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        ws.onerror = () => reject(new Error('the socket did not open'));
        ws.onopen = () => {
          ws.send(JSON.stringify({ type: 'join', room, username: name }));
          ws.send(JSON.stringify({ type: 'post', room, text, client_id: `${name}-1` }));
        };
        ws.onmessage = (e) => {
          const msg = JSON.parse(e.data);
          if (msg.type === 'error') reject(new Error(`${msg.code} ${msg.message}`));
          if (msg.type === 'ack') {
            ws.close();
            resolve(msg.seq);
          }
        };
      }),
    { room, name, text },
  );
}

test('the projector page resumes across a server restart: no post missed, none twice', async ({ browser }) => {
  test.setTimeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'wallsocket-restart-'));
  const port = await freePort();
  let server = await startServer(port, dir);
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  try {
    const room = uniqueRoom('restart');
    const base = `http://127.0.0.1:${port}`;
    const projector = await context.newPage();
    await projector.goto(`${base}/r/${room}/wall`);
    const hint = projector.getByTestId('projector-conn');
    await expect(hint).toHaveText('');
    const poster = await context.newPage();
    await poster.goto(`${base}/`);
    const shown = projector.locator('[data-testid=projector-posts] .projector-post');

    expect(await postFrom(poster, room, 'early', 'before the restart')).toBe(1);
    await expect(shown.first()).toContainText('before the restart');

    await stopServer(server);
    await expect(hint).toHaveText(/reconnecting/);
    server = await startServer(port, dir);
    expect(await postFrom(poster, room, 'late', 'after the restart')).toBe(2);

    await expect(shown.first()).toContainText('after the restart', { timeout: 20_000 });
    await expect(hint).toHaveText('');
    await expect(shown).toHaveCount(2);
    await expect(shown.nth(1)).toContainText('before the restart');
  } finally {
    await context.close();
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
});
