#!/usr/bin/env node
// Drives the web dashboard in headless Chromium against a job manager that
// runs a job, and checks what a person would see:
//   graph      the job graph shows every vertex GET /jobs/ID lists
//   subtasks   clicking a vertex shows one row per subtask, with integer counts
//   records    the job's records-out total grows
//   checkpoint Trigger checkpoint starts one, and its row turns COMPLETED
//   restart    after SIGKILL of a task manager, an exception row appears, the
//              restart count is at least 1, the job runs and its output grows
//   overview   the overview lists the job; task managers lists them
// With --screenshots DIR it saves overview.png, job.png, checkpoints.png and
// taskmanagers.png at 1400x900.
//
// usage: node dashboard_test.mjs --url http://127.0.0.1:PORT/ --job JOBID --kill-pid PID
//            [--screenshots DIR] [--timeout SECONDS]
// Exits 0 when every check passed; otherwise 1 with one line naming the check
// that failed, followed by the browser's console errors. An uncaught error in
// the page fails the test. CHROMIUM overrides the browser (default
// /usr/bin/chromium); playwright-core comes from web/node_modules.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const kUsage = 'usage: dashboard_test.mjs --url URL --job JOBID --kill-pid PID [--screenshots DIR] [--timeout SECONDS]';

class CheckFailed extends Error {
  constructor(check, detail) {
    super(`${check}: ${detail}`);
    this.check = check;
  }
}

function parseArgs(argv) {
  const options = { timeout: 30 };
  const names = { '--url': 'url', '--job': 'job', '--kill-pid': 'killPid', '--screenshots': 'screenshots', '--timeout': 'timeout' };
  for (let i = 0; i < argv.length; i += 2) {
    const name = names[argv[i]];
    if (!name || i + 1 >= argv.length) throw new Error(`unexpected argument ${argv[i]}; ${kUsage}`);
    options[name] = argv[i + 1];
  }
  if (!options.url || !options.job || !options.killPid) throw new Error(kUsage);
  options.url = options.url.endsWith('/') ? options.url : `${options.url}/`;
  options.killPid = Number(options.killPid);
  options.timeout = Number(options.timeout) * 1000;
  if (!Number.isInteger(options.killPid) || options.killPid <= 0) throw new Error(`--kill-pid: not a process id; ${kUsage}`);
  if (!(options.timeout > 0)) throw new Error(`--timeout: not a number of seconds; ${kUsage}`);
  return options;
}

function loadPlaywright() {
  const webPackage = new URL('../../web/package.json', import.meta.url);
  try {
    return createRequire(webPackage)('playwright-core');
  } catch {
    throw new Error('playwright-core is not installed: run `npm install` in web/');
  }
}

let options;
let jobPath;
const pageErrors = [];
const consoleErrors = [];

async function getJson(relative) {
  const response = await fetch(new URL(relative, options.url), { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET /${relative} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

function remaining(deadline) {
  return Math.max(deadline - Date.now(), 1);
}

/**
 * Waits until `predicate(arg)`, run in the page, returns a truthy value,
 * within the timeout; on timeout, fails `check` with what `describe(arg)`,
 * also run in the page, says about the state the page is in.
 */
async function waitInPage(page, check, predicate, arg, describe) {
  try {
    const handle = await page.waitForFunction(predicate, arg, { timeout: options.timeout, polling: 100 });
    return handle.jsonValue();
  } catch (error) {
    if (!/Timeout/i.test(String(error))) throw error;
    const state = await page.evaluate(describe, arg).catch(() => '(page not readable)');
    throw new CheckFailed(check, `not seen within ${options.timeout / 1000} s: ${state}`);
  }
}

function failOnPageErrors(check) {
  if (pageErrors.length) throw new CheckFailed(check, `uncaught page error: ${pageErrors[0]}`);
}

async function readTotal(page) {
  return page.$eval('[data-testid="records-out-total"]', (e) => e.textContent.trim()).catch(() => null);
}

async function checkGraph(page) {
  const job = await getJson(jobPath);
  const expected = (job.vertices ?? []).map((v) => String(v.id)).sort();
  if (expected.length === 0) throw new CheckFailed('graph', `GET /${jobPath} lists no vertices`);
  await page.goto(`${options.url}#/${jobPath}`);
  await waitInPage(page, 'graph',
    (ids) => {
      const shown = [...document.querySelectorAll('[data-testid="vertex"]')].map((e) => e.getAttribute('data-vertex-id'));
      return JSON.stringify(shown.sort()) === JSON.stringify(ids);
    },
    expected,
    (ids) => `graph shows vertices [${[...document.querySelectorAll('[data-testid="vertex"]')]
      .map((e) => e.getAttribute('data-vertex-id')).join(', ')}], the API lists [${ids.join(', ')}]`);
  failOnPageErrors('graph');
  return job;
}

async function checkSubtasks(page, job) {
  const vertex = job.vertices[0];
  await page.click(`[data-testid="vertex"][data-vertex-id="${String(vertex.id)}"]`);
  await waitInPage(page, 'subtasks',
    (parallelism) => {
      const rows = [...document.querySelectorAll('[data-testid="subtask-row"]')];
      return rows.length === parallelism && rows.every((row) =>
        /^\d+$/.test(row.querySelector('[data-testid="records-in"]')?.textContent.trim() ?? '')
        && /^\d+$/.test(row.querySelector('[data-testid="records-out"]')?.textContent.trim() ?? ''));
    },
    vertex.parallelism,
    (parallelism) => `${document.querySelectorAll('[data-testid="subtask-row"]').length} subtask rows with integer `
      + `records-in and records-out, expected ${parallelism}`);
  failOnPageErrors('subtasks');
}

async function waitForGrowth(page, check) {
  const start = await waitInPage(page, check,
    () => {
      const text = document.querySelector('[data-testid="records-out-total"]')?.textContent.trim();
      return /^\d+$/.test(text ?? '') ? Number(text) : null;
    },
    null,
    () => `records-out-total reads "${document.querySelector('[data-testid="records-out-total"]')?.textContent ?? '(missing)'}"`);
  await waitInPage(page, check,
    (before) => Number(document.querySelector('[data-testid="records-out-total"]')?.textContent.trim()) > before,
    start,
    (before) => `records-out-total stayed at ${document.querySelector('[data-testid="records-out-total"]')?.textContent} (from ${before})`);
  failOnPageErrors(check);
  return start;
}

function isCheckpointPost(response) {
  return response.request().method() === 'POST'
    && new URL(response.url()).pathname.endsWith(`/${jobPath}/checkpoints`);
}

function isHistoryGet(response) {
  return response.request().method() === 'GET'
    && new URL(response.url()).pathname.endsWith(`/${jobPath}/checkpoints`);
}

async function checkCheckpoint(page) {
  const deadline = Date.now() + options.timeout;
  let requestId = null;
  // While a periodic checkpoint is in progress the API answers 409: the page
  // shows the error, and the test tries again after the next poll.
  while (requestId === null) {
    if (Date.now() >= deadline) throw new CheckFailed('checkpoint', 'every trigger was refused (409) for the whole timeout');
    const button = page.locator('[data-testid="trigger-checkpoint"]');
    await button.waitFor({ state: 'visible', timeout: remaining(deadline) });
    await page.waitForFunction(() => !document.querySelector('[data-testid="trigger-checkpoint"]').disabled, null,
      { timeout: remaining(deadline), polling: 100 })
      .catch(() => { throw new CheckFailed('checkpoint', 'the Trigger checkpoint button stayed disabled'); });
    const [response] = await Promise.all([
      page.waitForResponse(isCheckpointPost, { timeout: remaining(deadline) }),
      button.click(),
    ]);
    if (response.status() === 202) {
      requestId = (await response.json())['request-id'];
      if (!Number.isInteger(requestId)) throw new CheckFailed('checkpoint', `202 without an integer request-id`);
    } else if (response.status() === 409) {
      const message = (await response.json().catch(() => ({}))).error ?? '';
      await waitInPage(page, 'checkpoint',
        (text) => {
          const area = document.querySelector('[data-testid="error"]');
          return area && !area.hidden && area.textContent.includes(text);
        },
        message,
        (text) => `the error area does not show "${text}"`);
      await page.waitForResponse(isHistoryGet, { timeout: remaining(deadline) });
    } else {
      throw new CheckFailed('checkpoint', `POST /${jobPath}/checkpoints answered ${response.status()}: ${await response.text()}`);
    }
  }
  const status = await waitInPage(page, 'checkpoint',
    (id) => {
      const cell = document.querySelector(`[data-testid="checkpoint-row"][data-checkpoint-id="${id}"] [data-testid="checkpoint-status"]`);
      const text = cell?.textContent.trim();
      return text === 'COMPLETED' || text === 'FAILED' ? text : null;
    },
    requestId,
    (id) => {
      const cell = document.querySelector(`[data-testid="checkpoint-row"][data-checkpoint-id="${id}"] [data-testid="checkpoint-status"]`);
      return cell ? `checkpoint ${id} is ${cell.textContent.trim()}` : `no row for checkpoint ${id}`;
    });
  if (status !== 'COMPLETED') throw new CheckFailed('checkpoint', `checkpoint ${requestId} ended ${status}`);
  failOnPageErrors('checkpoint');
  return requestId;
}

async function checkRestart(page) {
  const exceptionsBefore = await page.locator('[data-testid="exception-row"]').count();
  try {
    process.kill(options.killPid, 'SIGKILL');
  } catch (error) {
    throw new CheckFailed('restart', `cannot kill process ${options.killPid}: ${error.code ?? error.message}`);
  }
  await waitInPage(page, 'restart',
    (before) => {
      const exceptions = document.querySelectorAll('[data-testid="exception-row"]').length;
      const restarts = Number(document.querySelector('[data-testid="job-restarts"]')?.textContent.trim());
      const state = document.querySelector('[data-testid="job-state"]')?.textContent.trim();
      return exceptions > before && restarts >= 1 && state === 'running';
    },
    exceptionsBefore,
    (before) => {
      const text = (selector) => document.querySelector(selector)?.textContent.trim() ?? '(missing)';
      return `exception rows ${document.querySelectorAll('[data-testid="exception-row"]').length} (before ${before}), `
        + `restarts ${text('[data-testid="job-restarts"]')}, state ${text('[data-testid="job-state"]')}`;
    });
  await waitForGrowth(page, 'restart');
}

async function setHash(page, hash) {
  await page.evaluate((h) => {
    window.location.hash = h;
  }, hash);
}

async function checkOtherPages(page, screenshots) {
  if (screenshots) {
    await page.evaluate(() => window.scrollTo(0, 0));
    await waitInPage(page, 'screenshots',
      () => document.querySelectorAll('.chart canvas').length >= 2,
      null, () => 'the charts are not drawn');
    await page.screenshot({ path: path.join(screenshots, 'job.png') });
    await page.locator('#checkpoints-panel').evaluate((e) => e.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: path.join(screenshots, 'checkpoints.png') });
  }
  await setHash(page, '#/');
  await waitInPage(page, 'overview',
    (id) => [...document.querySelectorAll('[data-testid="job-row"]')].some((row) => row.dataset.jobId === id),
    options.job,
    (id) => `no row for job ${id} among ${document.querySelectorAll('[data-testid="job-row"]').length} job rows`);
  if (screenshots) await page.screenshot({ path: path.join(screenshots, 'overview.png') });
  await setHash(page, '#/taskmanagers');
  await waitInPage(page, 'taskmanagers',
    () => document.querySelectorAll('[data-testid="taskmanager-row"]').length > 0,
    null, () => 'no task manager rows');
  if (screenshots) await page.screenshot({ path: path.join(screenshots, 'taskmanagers.png') });
  failOnPageErrors('overview');
}

async function main() {
  const { chromium } = loadPlaywright();
  if (options.screenshots) fs.mkdirSync(options.screenshots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    headless: true,
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    const job = await checkGraph(page);
    await checkSubtasks(page, job);
    await waitForGrowth(page, 'records');
    const checkpoint = await checkCheckpoint(page);
    await checkRestart(page);
    await checkOtherPages(page, options.screenshots);
    return `graph of ${job.vertices.length} vertices, subtasks, growing output, checkpoint ${checkpoint}, `
      + 'restart after a lost task manager, overview and task managers';
  } finally {
    await browser.close();
  }
}

function printConsoleErrors() {
  for (const text of consoleErrors) console.log(`  browser console error: ${text}`);
}

try {
  options = parseArgs(process.argv.slice(2));
  jobPath = `jobs/${encodeURIComponent(options.job)}`;
} catch (error) {
  console.log(`dashboard_test: ${error.message}`);
  process.exit(2);
}

try {
  const summary = await main();
  console.log(`dashboard_test: passed: ${summary}`);
  printConsoleErrors();
  process.exit(0);
} catch (error) {
  const line = error instanceof CheckFailed ? error.message : `error: ${String(error.message ?? error).split('\n')[0]}`;
  console.log(`dashboard_test: FAILED ${line}`);
  for (const text of pageErrors) console.log(`  uncaught page error: ${text}`);
  printConsoleErrors();
  process.exit(1);
}
