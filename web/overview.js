// The overview page (#/): the cluster's numbers from GET /overview, the job
// list from GET /jobs, and a form that submits a job (POST /jobs).

import { api } from './api.js';
import { duration, html, integer, kDash, orDash, timestamp } from './format.js';
import { clearError, showError, showNotice } from './messages.js';
import { setHtml, stateBadge } from './widgets.js';

/**
 * Splits the arguments of a submission: whitespace (spaces or new lines)
 * separates them, and single or double quotes keep spaces inside one.
 */
export function splitArgs(text) {
  const args = [];
  let current = '';
  let quote = null;
  let inArg = false;
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = null;
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inArg = true;
    } else if (/\s/.test(c)) {
      if (inArg) args.push(current);
      current = '';
      inArg = false;
    } else {
      current += c;
      inArg = true;
    }
  }
  if (quote) throw new Error(`unclosed ${quote} in the arguments`);
  if (inArg) args.push(current);
  return args;
}

const kCards = [
  ['taskmanagers', 'Task managers'],
  ['slots-total', 'Slots'],
  ['slots-available', 'Slots free'],
  ['jobs-running', 'Running'],
  ['jobs-waiting', 'Waiting'],
  ['jobs-finished', 'Finished'],
  ['jobs-cancelled', 'Cancelled'],
  ['jobs-failed', 'Failed'],
];

function cards(overview) {
  return html`${kCards.map(([key, label]) => html`<div class="card" data-testid="overview-${key}">
      <div class="card-value">${integer(overview[key])}</div><div class="card-label">${label}</div></div>`)}`;
}

function jobRow(job) {
  const id = String(job.id);
  return html`<tr data-testid="job-row" data-job-id="${id}">
    <td><a href="#/jobs/${encodeURIComponent(id)}">${id}</a></td>
    <td>${orDash(job.name)}</td>
    <td>${stateBadge(job.state)}</td>
    <td class="num">${integer(job.attempt)}</td>
    <td class="num">${integer(job.restarts)}</td>
    <td>${timestamp(job['start-time'])}</td>
    <td class="num">${duration(job.duration)}</td>
    <td class="num">${integer(job.parallelism)}</td>
    <td>${orDash(job.mode)}</td>
    <td class="num">${job['last-checkpoint'] === null || job['last-checkpoint'] === undefined ? kDash : integer(job['last-checkpoint'])}</td>
  </tr>`;
}

function jobsTable(jobs) {
  if (jobs.length === 0) return html`<p class="empty">No jobs yet.</p>`;
  const sorted = [...jobs].sort((a, b) => (b['start-time'] ?? 0) - (a['start-time'] ?? 0));
  return html`<table class="data" data-testid="jobs-table">
    <thead><tr><th>Job</th><th>Name</th><th>State</th><th class="num">Attempt</th>
      <th class="num">Restarts</th><th>Started</th><th class="num">Duration</th>
      <th class="num">Parallelism</th><th>Mode</th><th class="num">Last checkpoint</th></tr></thead>
    <tbody>${sorted.map(jobRow)}</tbody></table>`;
}

export function mountOverview(root, { refreshNow }) {
  root.innerHTML = html`
    <section class="panel">
      <h2>Cluster</h2>
      <div class="cards" id="overview-cards"></div>
      <p class="version">Sluice <span id="overview-version">${kDash}</span></p>
    </section>
    <section class="panel">
      <h2>Jobs</h2>
      <div id="overview-jobs"><p class="empty">Loading\u2026</p></div>
    </section>
    <section class="panel">
      <h2>Submit a job</h2>
      <form class="submit-form" id="submit-form" data-testid="submit-form">
        <label><span>Topology</span>
          <input name="topology" required placeholder="windowed-count" autocomplete="off"
            list="topology-names"></label>
        <datalist id="topology-names"></datalist>
        <label><span>Job id</span> <input name="name" placeholder="optional" autocomplete="off"></label>
        <label class="wide"><span>Arguments: the options of <code>sluice submit</code>, one per line or
          space-separated; quotes keep spaces in one argument</span>
          <textarea name="args" rows="3" spellcheck="false"
            placeholder="--parallelism 2&#10;--set input=/data/in.txt"></textarea></label>
        <div><button type="submit" class="primary">Submit</button></div>
      </form>
    </section>`;

  const form = root.querySelector('#submit-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const submission = { topology: String(data.get('topology')).trim() };
    try {
      submission.args = splitArgs(String(data.get('args')));
    } catch (error) {
      showError('action', error.message, 'Submit');
      return;
    }
    const name = String(data.get('name')).trim();
    if (name) submission.name = name;
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const answer = await api.submit(submission);
      clearError('action');
      const id = String(answer.jobid);
      showNotice(html`Submitted <a href="#/jobs/${encodeURIComponent(id)}">${id}</a>.`);
      refreshNow();
    } catch (error) {
      showError('action', error.message, 'Submit');
    } finally {
      button.disabled = false;
    }
  });

  // The registered topologies, offered in the topology field (once).
  const names = root.querySelector('#topology-names');
  api.topologies().then((answer) => {
    for (const topology of Array.isArray(answer.topologies) ? answer.topologies : []) {
      const option = document.createElement('option');
      option.value = String(topology.name);
      option.textContent = String(topology.description ?? '');
      names.appendChild(option);
    }
  }).catch((error) => showError('topologies', error.message, 'Topologies'));

  const cardsArea = root.querySelector('#overview-cards');
  const version = root.querySelector('#overview-version');
  const jobsArea = root.querySelector('#overview-jobs');
  return {
    async refresh() {
      const [overview, jobs] = await Promise.all([api.overview(), api.jobs()]);
      setHtml(cardsArea, cards(overview));
      version.textContent = orDash(overview['sluice-version']);
      setHtml(jobsArea, jobsTable(Array.isArray(jobs.jobs) ? jobs.jobs : []));
    },
    unmount() {},
  };
}
