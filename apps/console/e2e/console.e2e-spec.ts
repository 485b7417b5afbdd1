import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deadLetterPut,
  adminAuthHeaders,
  findRepoRoot,
  gatewayRequest,
  killProcess,
  readStack,
  startProcess,
  type StackInfo,
} from '@keyflow/testing';

/**
 * The web console in a real Chromium (Debian's package, driven by playwright-core), through the stack's nginx
 * gateways. The browser asks for the gateways' DNS name (api.keyflow.test), which each browser here resolves to one
 * gateway (`--host-resolver-rules`), as DNS round robin would: one origin, one cookie jar, whichever gateway answers.
 * Screenshots of every page go to the test run's output folder (test-results/console/).
 */
const CHROMIUM = process.env['KEYFLOW_CHROMIUM'] ?? '/usr/bin/chromium';
const OUTPUT = join(
  process.env['KEYFLOW_TEST_OUTPUT_DIR'] ?? join(findRepoRoot(process.cwd()) ?? '.', 'test-results'),
  'console',
);
const run = randomUUID().slice(0, 8);
const PASSWORD = `pw-${randomUUID()}`;

let stack: StackInfo;
let origin: string;
const browsers: Browser[] = [];
/** Content-Security-Policy violations and page errors: the console must run under its CSP without any. */
const pageErrors: string[] = [];

/** A Chromium whose every request for the gateways' name goes to gateway `i` (0-based). */
async function browserVia(i: number): Promise<Browser> {
  const gateway = new URL(stack.gateways[i] ?? '');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [`--host-resolver-rules=MAP ${stack.dns?.name ?? 'api.keyflow.test'} ${gateway.hostname}`],
  });
  browsers.push(browser);
  return browser;
}

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) pageErrors.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return page;
}

/** A user who may write the keys under `console-<run>:` only (admins may do anything anyway). */
async function createUser(name: string, role: 'user' | 'admin'): Promise<string> {
  const username = `${name}-${run}`;
  const created = await gatewayRequest('POST', '/v1/users', {
    body: { username, password: PASSWORD, role, grants: [{ prefix: `console-${run}:`, access: 'write' }] },
    headers: adminAuthHeaders(stack),
    stack,
  });
  expect(created.status).toBe(201);
  return username;
}

/** Logs in with the keyboard only: type, Tab, type, Enter. */
async function logIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByRole('heading', { name: 'Log in to keyflow' }).waitFor();
  await page.getByLabel('Username').focus();
  await page.keyboard.type(username);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}

async function profile(page: Page): Promise<{ user: string; instance: string; gateway: string }> {
  await page.getByRole('heading', { name: 'Profile' }).waitFor();
  return {
    user: await page.getByTestId('profile-username').innerText(),
    instance: await page.getByTestId('profile-instance').innerText(),
    gateway: await page.getByTestId('profile-gateway').innerText(),
  };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });

describe('the web console in Chromium (e2e through the gateways)', () => {
  let user: string;
  let admin: string;
  let via1: Browser;
  let userContext: BrowserContext;

  beforeAll(async () => {
    stack = readStack();
    if (!stack.dns) throw new Error('the test stack has no DNS name for its gateways');
    origin = `http://${stack.dns.name}:${new URL(stack.gateway).port}`;
    rmSync(OUTPUT, { recursive: true, force: true });
    mkdirSync(OUTPUT, { recursive: true });
    [user, admin] = await Promise.all([createUser('browser', 'user'), createUser('browser-admin', 'admin')]);
    via1 = await browserVia(0);
    userContext = await via1.newContext({ viewport: { width: 1100, height: 800 } });
  });

  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => undefined);
    // Whatever happened in the kill test, leave both APIs running for the suites after this one.
    await startProcess('api-1', { waitForHealth: true }).catch(() => undefined);
  });

  it('should show a wrong password as such, then log in by keyboard through gateway 1 onto the profile', async () => {
    const page = await newPage(userContext);
    await logIn(page, user, 'not-the-password');
    await expect(page.getByRole('alert').innerText()).resolves.toBe('Wrong username or password.');
    await shot(page, '1-login-error');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    const seen = await profile(page);
    expect(seen).toMatchObject({ user, instance: expect.stringMatching(/^api-\d$/) });
    expect(seen.gateway).toContain(new URL(stack.gateways[0] ?? '').host);
    await expect(page.getByTestId('profile-role').innerText()).resolves.toBe('user');
    await expect(page.getByTestId('profile-expires').innerText()).resolves.toMatch(/in (29|30) min/);
    await shot(page, '2-profile');
    await page.close();
  });

  it('should keep the user logged in through gateways 2 and 3 while reloads reach both API instances', async () => {
    const state = await userContext.storageState();
    const instances = new Set<string>();
    const gateways = new Set<string>();
    for (const i of [1, 2]) {
      const context = await (await browserVia(i)).newContext({ storageState: state });
      const page = await newPage(context);
      await page.goto(`${origin}/#/profile`);
      for (let reload = 0; reload < 5; reload++) {
        const seen = await profile(page);
        expect(seen.user).toBe(user);
        instances.add(seen.instance);
        gateways.add(seen.gateway.split(' ')[0] ?? '');
        await page.reload();
      }
      await context.close();
    }
    expect([...gateways].sort()).toEqual(stack.gateways.slice(1).map((g) => new URL(g).host));
    expect([...instances].sort()).toEqual(['api-1', 'api-2']);
  });

  it('should keep the session when an API instance is killed (SIGKILL)', async () => {
    await killProcess('api-1', 'SIGKILL');
    const page = await newPage(userContext);
    await page.goto(`${origin}/#/profile`);
    for (let reload = 0; reload < 3; reload++) {
      await expect(profile(page)).resolves.toMatchObject({ user, instance: 'api-2' });
      await page.reload();
    }
    await page.close();
    await startProcess('api-1', { waitForHealth: true });
  }, 120_000);

  it('should create, edit, show a conflict with a second browser, and delete a key, with nothing overwritten silently', async () => {
    const prefix = `console-${run}:`;
    const key = `${prefix}greeting`;
    const page = await newPage(userContext);
    await page.goto(`${origin}/#/keys?prefix=${encodeURIComponent(prefix)}`);
    await page.getByRole('heading', { name: 'Keys', exact: true }).waitFor();
    await page.getByLabel('Follow changes live').check();
    await page.getByTestId('follow-state').getByText('following').waitFor();

    await page.getByRole('button', { name: 'New key' }).click();
    await page.getByLabel('Key', { exact: true }).fill(key);
    await page.getByLabel('Value (JSON)').fill('{"text": "hello"');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByRole('alert').innerText()).resolves.toMatch(/^not JSON: /);
    await page.getByLabel('Value (JSON)').fill('{"text": "hello", "n": 1}');
    await page.getByLabel('TTL (optional)').fill('1h');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(`Saved ${key}: version 1.`).waitFor();
    // Formatted JSON; the database keeps an object's keys in its own order (JSONB), so compare the value.
    const shown = await page.getByTestId('entry-value').innerText();
    expect(shown).toContain('\n  "text": "hello"');
    expect(JSON.parse(shown)).toEqual({ text: 'hello', n: 1 });
    await expect(page.getByTestId('entry-expiry').innerText()).resolves.toMatch(/in (59 min|1 h)/);
    await page.getByRole('row', { name: new RegExp(key) }).waitFor();
    await page.getByTestId('changes').getByText(key).first().waitFor();

    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Value (JSON)').fill('{"text": "hello again", "n": 2}');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText(`Saved ${key}: version 2.`).waitFor();
    await expect(page.getByTestId('entry-version').innerText()).resolves.toBe('2');
    await shot(page, '3-keys');

    // This browser starts an edit from version 2; another one saves first.
    await page.getByRole('button', { name: 'Edit' }).click();
    await page.getByLabel('Value (JSON)').fill('{"text": "mine"}');
    const second = await (await via1.newContext({ storageState: await userContext.storageState() })).newPage();
    await second.goto(`${origin}/#/keys?prefix=${encodeURIComponent(prefix)}&key=${encodeURIComponent(key)}`);
    await second.getByRole('button', { name: 'Edit' }).click();
    await second.getByLabel('Value (JSON)').fill('{"text": "theirs"}');
    await second.getByRole('button', { name: 'Save' }).click();
    await second.getByText(`Saved ${key}: version 3.`).waitFor();

    await page.getByRole('button', { name: 'Save' }).click();
    const dialog = page.getByRole('alertdialog', { name: 'Conflict' });
    await dialog.waitFor();
    await expect(dialog.getByTestId('conflict-theirs').innerText()).resolves.toBe('{\n  "text": "theirs"\n}');
    await expect(dialog.getByTestId('conflict-mine').innerText()).resolves.toBe('{"text": "mine"}');
    await shot(page, '4-keys-conflict');
    const stored = await gatewayRequest('GET', `/v1/kv/${encodeURIComponent(key)}?consistency=strong`, { stack });
    expect(stored.json).toMatchObject({ value: { text: 'theirs' }, version: 3 });

    await dialog.getByRole('button', { name: 'Use theirs and edit again' }).click();
    await expect(page.getByLabel('Value (JSON)').inputValue()).resolves.toBe('{\n  "text": "theirs"\n}');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Really delete version 3?' }).click();
    await page.getByText(`Deleted ${key}.`).waitFor();
    await page.getByText(`No keys under “${prefix}”.`).waitFor();
    const gone = await gatewayRequest('GET', `/v1/kv/${encodeURIComponent(key)}?consistency=strong`, { stack });
    expect(gone.status).toBe(404);
    await second.context().close();
    await page.close();
  }, 90_000);

  it('should create a token shown once with a copy button, list it, and revoke it', async () => {
    const page = await newPage(userContext);
    await page.goto(`${origin}/#/tokens`);
    await page.getByLabel('Name').fill('browser-ci');
    await page.getByRole('button', { name: 'Create token' }).click();
    await expect(page.getByTestId('token-secret').inputValue()).resolves.toMatch(/^kf_/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText(/^(Copied\.|Select the token and copy it\.)$/).waitFor();
    await shot(page, '5-tokens');
    await page.getByRole('button', { name: 'Done' }).click();
    const row = page.getByTestId('token-row').filter({ hasText: 'browser-ci' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByRole('button', { name: 'Really revoke “browser-ci”?' }).click();
    await row.waitFor({ state: 'detached' });
    await page.close();
  });

  it('should fit a phone screen', async () => {
    const context = await via1.newContext({
      storageState: await userContext.storageState(),
      viewport: { width: 375, height: 740 },
      isMobile: true,
    });
    const page = await newPage(context);
    await page.goto(`${origin}/#/keys`);
    await page.getByRole('heading', { name: 'Keys', exact: true }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.goto(`${origin}/#/profile`);
    await profile(page);
    await shot(page, '6-profile-phone');
    await context.close();
  });

  it('should show an admin the cluster page with every process and dead letters to replay, and a plain user no cluster page', async () => {
    const userPage = await newPage(userContext);
    await userPage.goto(`${origin}/#/profile`);
    await profile(userPage);
    await expect(
      userPage.getByRole('navigation', { name: 'Pages' }).getByRole('link').allInnerTexts(),
    ).resolves.toEqual(['Profile', 'Keys', 'Tokens']);
    await userPage.goto(`${origin}/#/cluster`);
    await userPage.getByText(/The cluster page is for admins/).waitFor();
    await userPage.close();

    const context = await via1.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await newPage(context);
    await logIn(page, admin);
    await profile(page);
    await page.getByRole('link', { name: 'Cluster' }).click();
    const rows = page.getByTestId('process-row');
    await rows.first().waitFor();
    const names = (await rows.allInnerTexts()).map((r) => r.split(/\s/)[0]);
    for (const name of ['gateway-1', 'gateway-2', 'gateway-3', 'api-1', 'api-2', 'worker-1', 'worker-2', 'haproxy']) {
      expect(names).toContain(name);
    }
    for (const name of ['pg-1', 'pg-2', 'pg-3', 'rmq1', 'rmq2', 'rmq3', 'named', 'etcd']) expect(names).toContain(name);
    expect(names.filter((n) => n?.startsWith('redis-'))).toHaveLength(6);
    await expect(page.getByTestId('cluster-primary').innerText()).resolves.toMatch(/^pg-\d$/);
    await page.getByText('api-1: its dependencies').or(page.getByText('api-2: its dependencies')).waitFor();
    const letter = await deadLetterPut(`console-dlq-${run}`, 1, stack);
    const row = page.getByTestId('dead-letters').getByRole('row').filter({ hasText: letter });
    await row.waitFor({ timeout: 15_000 });
    await shot(page, '7-cluster');
    await row.getByRole('button', { name: 'Replay' }).click();
    await page
      .getByTestId('replays')
      .getByText(new RegExp(`${letter}: replayed`))
      .waitFor();
    await context.close();
  }, 90_000);

  it("should chart Prometheus's panels on the cluster page with data, units and current values, over a chosen window", async () => {
    const context = await via1.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await newPage(context);
    await logIn(page, admin);
    await profile(page);
    await page.getByRole('link', { name: 'Cluster' }).click();
    const metrics = page.getByTestId('metrics');
    await metrics.getByRole('heading', { name: /Metrics from Prometheus, last 15 min/ }).waitFor({ timeout: 30_000 });
    const panels = metrics.getByTestId('metrics-panel');
    await expect(panels.evaluateAll((all) => all.map((p) => p.getAttribute('data-panel')))).resolves.toEqual([
      'requestRate',
      'errorRatio',
      'writeVisibilityP99',
      'shardBacklog',
      'replicationLag',
      'instancesUp',
    ]);
    // Both API instances answered this suite's requests: each has a line with a current rate, in req/s.
    const requests = metrics.locator('[data-panel="requestRate"]');
    await requests.getByTestId('metrics-series').filter({ hasText: 'api-2' }).waitFor({ timeout: 30_000 });
    const rates = await requests.getByTestId('metrics-series').allInnerTexts();
    expect(rates.map((r) => r.split(/\s/)[0])).toEqual(['api-1', 'api-2']);
    for (const rate of rates) expect(rate).toMatch(/ \d+(\.\d+)? req\/s$/);
    const lines = await requests.locator('path.line').evaluateAll((paths) => paths.map((p) => p.getAttribute('d')));
    expect(lines).toHaveLength(2);
    for (const d of lines) expect(d).toMatch(/^M[\d.]+,[\d.]+ L/);
    // Every Redis node is up, and the panel says how many.
    const up = metrics.locator('[data-panel="instancesUp"]').getByTestId('metrics-series').filter({ hasText: 'redis' });
    await expect(up.getByTestId('metrics-current').innerText()).resolves.toBe('6');
    await expect(
      metrics.locator('[data-panel="shardBacklog"]').getByTestId('metrics-series').first().innerText(),
    ).resolves.toMatch(/^dead letters \d+$/);
    await expect(metrics.getByTestId('metrics-unavailable').count()).resolves.toBe(0);
    await shot(page, '7b-cluster-metrics');
    await metrics.getByLabel('Window').selectOption('1h');
    await metrics.getByRole('heading', { name: /last 1 h/ }).waitFor();
    await context.close();
  }, 90_000);

  it('should log out: back to the login page, and the profile no longer reachable', async () => {
    const page = await newPage(userContext);
    await page.goto(`${origin}/#/profile`);
    await profile(page);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in to keyflow' }).waitFor();
    await page.goto(`${origin}/#/profile`);
    await page.reload();
    await page.getByRole('heading', { name: 'Log in to keyflow' }).waitFor();
    await shot(page, '8-logged-out');
    const status = await page.evaluate(async () => (await fetch('/v1/auth/session')).status);
    expect(status).toBe(401);
    await page.close();
  });

  it('should have run under the Content-Security-Policy without a violation or a page error', () => {
    expect(pageErrors).toEqual([]);
  });
});
