// The dashboard's entry point: hash routing between the pages, the poll loop
// that refreshes the current page every second, and the API token field.
//
// A page is mounted into <main> by a function `mount(root, context)` that
// returns `{refresh(): Promise, unmount()}`. The loop calls `refresh` once a
// second, never two at once; a failed refresh shows its error until the next
// one succeeds. Leaving a page unmounts it, and answers that arrive later
// are ignored by the page.

import { setToken, token } from './api.js';
import { html } from './format.js';
import { mountJob } from './job.js';
import { attach, clearError, showError, showNotice } from './messages.js';
import { mountOverview } from './overview.js';
import { mountTaskManagers } from './taskmanagers.js';

const kPollMs = 1000;

const routes = [
  { pattern: /^\/?$/, mount: mountOverview, nav: 'overview', title: 'Overview' },
  { pattern: /^\/jobs\/([^/]+)$/, mount: mountJob, nav: 'overview', title: 'Job', params: ['id'] },
  { pattern: /^\/taskmanagers$/, mount: mountTaskManagers, nav: 'taskmanagers', title: 'Task managers' },
];

const root = document.querySelector('main');
let page = null;
let timer = null;
// Bumped on every route change and forced refresh: a poll of an older
// generation does not schedule the next one.
let generation = 0;

function resolve(hash) {
  const path = hash.replace(/^#/, '') || '/';
  for (const route of routes) {
    const match = path.match(route.pattern);
    if (!match) continue;
    const params = {};
    (route.params ?? []).forEach((name, i) => {
      params[name] = decodeURIComponent(match[i + 1]);
    });
    return { route, params };
  }
  return null;
}

async function poll(current) {
  if (current !== generation || !page) return;
  try {
    await page.refresh();
    if (current === generation) clearError('poll');
  } catch (error) {
    if (current === generation) showError('poll', error.message);
  }
  if (current === generation) timer = setTimeout(() => poll(current), kPollMs);
}

/** Refreshes the current page now, and polls on from there. */
function refreshNow() {
  clearTimeout(timer);
  generation += 1;
  poll(generation);
}

function navigate() {
  clearTimeout(timer);
  generation += 1;
  if (page) page.unmount();
  page = null;
  clearError('poll');
  clearError('action');
  showNotice(null);
  const resolved = resolve(window.location.hash);
  for (const link of document.querySelectorAll('nav a[data-nav]')) {
    link.classList.toggle('active', resolved?.route.nav === link.dataset.nav);
  }
  if (!resolved) {
    root.innerHTML = html`<section class="panel"><h2>Not found</h2>
      <p>No page at <code>${window.location.hash}</code>. <a href="#/">Go to the overview.</a></p></section>`;
    document.title = 'Sluice';
    return;
  }
  const { route, params } = resolved;
  document.title = params.id ? `${params.id} \u00b7 Sluice` : `${route.title} \u00b7 Sluice`;
  window.scrollTo(0, 0);
  page = route.mount(root, { params, refreshNow });
  poll(generation);
}

function setUpToken() {
  const input = document.querySelector('#token');
  input.value = token();
  const save = () => {
    setToken(input.value.trim());
    input.value = token();
  };
  input.addEventListener('change', save);
  document.querySelector('#token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    save();
  });
}

attach(document.querySelector('#error'), document.querySelector('#notice'));
if (typeof window.dagre === 'undefined' || typeof window.uPlot === 'undefined') {
  showError('vendor', 'vendor/dagre.min.js or vendor/uPlot.iife.min.js did not load: the job graph and charts cannot be drawn');
}
setUpToken();
window.addEventListener('hashchange', navigate);
navigate();
