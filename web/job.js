// The job page (#/jobs/ID): the job's header and actions, its graph, live
// charts, the subtasks of the selected vertex, checkpoints, exceptions and,
// for micro-batch jobs, the batches.

import { api } from './api.js';
import { LiveChart, formats, historyFor } from './charts.js';
import { duration, html, integer, kDash, orDash, timestamp } from './format.js';
import { JobGraph, busyColour } from './graph.js';
import {
  batchesTable, checkpointSummary, checkpointsTable, exceptionsTable, subtasksTable,
} from './job_tables.js';
import { clearError, showError, showNotice } from './messages.js';
import { setHtml, stateBadge } from './widgets.js';

const kEnded = new Set(['finished', 'failed', 'cancelled']);

function sum(vertices, key) {
  return vertices.reduce((total, v) => total + (Number(v.metrics?.[key]) || 0), 0);
}

/** The job's sample: [records out/s, records in/s, watermark lag in ms or null]. */
function sample(job) {
  const vertices = Array.isArray(job.vertices) ? job.vertices : [];
  const now = typeof job.now === 'number' ? job.now : Date.now();
  const watermarks = vertices
    .map((v) => v.metrics?.['input-watermark'])
    .filter((w) => typeof w === 'number');
  const lag = watermarks.length ? now - Math.min(...watermarks) : null;
  return { seconds: now / 1000, values: [sum(vertices, 'records-out-per-second'), sum(vertices, 'records-in-per-second'), lag] };
}

function legend() {
  const stops = [0, 0.25, 0.5, 0.75, 1].map((b) => `${busyColour(b)} ${b * 100}%`).join(', ');
  return html`<div class="legend" data-testid="graph-legend">
    <span class="legend-item"><span class="legend-gradient" style="background: linear-gradient(to right, ${stops})"></span>
      idle \u2192 busy (busy time per second)</span>
    <span class="legend-item"><span class="legend-swatch bp-low"></span> backpressured \u2265 10%</span>
    <span class="legend-item"><span class="legend-swatch bp-high"></span> backpressured \u2265 50%</span>
    <span class="legend-item hint">Click a vertex for its subtasks.</span>
  </div>`;
}

function header(job) {
  const vertices = Array.isArray(job.vertices) ? job.vertices : [];
  const stat = (label, value, testid) => html`<div><dt>${label}</dt><dd data-testid="${testid}">${value}</dd></div>`;
  return html`<dl class="inline-stats">
      <div><dt>State</dt><dd data-testid="job-state">${stateBadge(job.state)}</dd></div>
      ${stat('Attempt', integer(job.attempt), 'job-attempt')}
      ${stat('Restarts', integer(job.restarts), 'job-restarts')}
      ${stat('Duration', duration(job.duration), 'job-duration')}
      ${stat('Mode', orDash(job.mode), 'job-mode')}
      ${stat('Parallelism', integer(job.parallelism), 'job-parallelism')}
      ${stat('Started', timestamp(job['start-time']), 'job-start')}
      ${stat('Last checkpoint', job['last-checkpoint'] === null || job['last-checkpoint'] === undefined
        ? kDash : integer(job['last-checkpoint']), 'job-last-checkpoint')}
      ${stat('Records out', integer(sum(vertices, 'records-out')), 'records-out-total')}
    </dl>
    ${job.message ? html`<p class="job-message ${job.state === 'failed' ? 'bad' : ''}" data-testid="job-message">
      <span class="job-message-label">Message:</span> ${job.message}</p>` : ''}`;
}

export function mountJob(root, { params, refreshNow }) {
  const id = params.id;
  root.innerHTML = html`
    <section class="panel job-head">
      <div class="job-title">
        <h2><span id="job-name"></span> <span class="job-id">${id}</span></h2>
        <div class="actions">
          <button type="button" id="trigger-checkpoint" data-testid="trigger-checkpoint">Trigger checkpoint</button>
          <button type="button" id="cancel-job" class="danger" data-testid="cancel-job">Cancel job</button>
        </div>
      </div>
      <div id="job-header"><p class="empty">Loading\u2026</p></div>
    </section>
    <section class="panel">
      <h2>Job graph</h2>
      <div class="graph" id="job-graph" data-testid="job-graph"></div>
      ${legend()}
    </section>
    <section class="panel charts">
      <div class="chart"><h3>Throughput (records per second, summed over vertices)</h3><div id="chart-throughput"></div></div>
      <div class="chart"><h3>Watermark lag (now \u2212 lowest input watermark)</h3><div id="chart-lag"></div></div>
    </section>
    <section class="panel" id="vertex-panel" data-testid="vertex-panel">
      <h2 id="vertex-title">Subtasks</h2>
      <div id="vertex-subtasks"><p class="empty">Click a vertex of the graph to see its subtasks.</p></div>
    </section>
    <section class="panel" id="checkpoints-panel" data-testid="checkpoints-panel">
      <h2>Checkpoints</h2>
      <div id="checkpoint-summary"></div>
      <div id="checkpoint-history"><p class="empty">Loading\u2026</p></div>
    </section>
    <section class="panel" id="exceptions-panel" data-testid="exceptions-panel">
      <h2>Exceptions</h2>
      <div id="job-exceptions"><p class="empty">Loading\u2026</p></div>
    </section>
    <section class="panel" id="batches-panel" data-testid="batches-panel" hidden>
      <h2>Micro-batches</h2>
      <div id="job-batches"></div>
    </section>`;

  const $ = (selector) => root.querySelector(selector);
  let alive = true;
  let selected = null;
  let lastJob = null;
  let mode = null;

  const graph = new JobGraph($('#job-graph'), (vertexId) => {
    selected = selected === vertexId ? null : vertexId;
    graph.select(selected);
    showSubtasksPlaceholder();
    refreshNow();
  });
  const history = historyFor(`job:${id}`, 3);
  const throughput = new LiveChart($('#chart-throughput'), {
    series: [{ label: 'out', colour: '#2f6fb3' }, { label: 'in', colour: '#d9822b', dash: [6, 4] }],
    format: formats.rate,
  });
  const lagChart = new LiveChart($('#chart-lag'), {
    series: [{ label: 'lag', colour: '#7a4fb0' }],
    format: formats.millis,
  });
  const drawCharts = () => {
    const [t, out, inRate, lag] = history.data();
    throughput.setData([t, out, inRate]);
    lagChart.setData([t, lag]);
  };
  drawCharts();

  function showSubtasksPlaceholder() {
    const vertex = lastJob?.vertices?.find((v) => String(v.id) === selected);
    $('#vertex-title').textContent = selected === null
      ? 'Subtasks' : `Subtasks of ${vertex?.name ?? selected}`;
    setHtml($('#vertex-subtasks'), selected === null
      ? html`<p class="empty">Click a vertex of the graph to see its subtasks.</p>`
      : html`<p class="empty">Loading\u2026</p>`);
  }

  const triggerButton = $('#trigger-checkpoint');
  const cancelButton = $('#cancel-job');
  triggerButton.addEventListener('click', async () => {
    triggerButton.disabled = true;
    try {
      const answer = await api.triggerCheckpoint(id);
      clearError('action');
      showNotice(html`Checkpoint ${integer(answer['request-id'])} triggered.`);
      refreshNow();
    } catch (error) {
      showError('action', error.message, 'Trigger checkpoint');
    } finally {
      if (alive) updateButtons();
    }
  });
  cancelButton.addEventListener('click', async () => {
    if (!window.confirm(`Cancel job ${id}?`)) return;
    cancelButton.disabled = true;
    try {
      await api.cancel(id);
      clearError('action');
      showNotice(html`Job ${id} is being cancelled.`);
      refreshNow();
    } catch (error) {
      showError('action', error.message, 'Cancel');
    } finally {
      if (alive) updateButtons();
    }
  });

  function updateButtons() {
    const state = lastJob?.state;
    cancelButton.disabled = !state || kEnded.has(state);
    triggerButton.disabled = state !== 'running';
  }
  updateButtons();

  function drawJob(job) {
    lastJob = job;
    mode = job.mode;
    $('#job-name').textContent = job.name ?? id;
    setHtml($('#job-header'), header(job));
    updateButtons();
    if (selected !== null && !job.vertices?.some((v) => String(v.id) === selected)) {
      selected = null;
      showSubtasksPlaceholder();
    }
    graph.update(job, selected);
    const { seconds, values } = sample(job);
    if (history.push(seconds, values)) drawCharts();
    $('#batches-panel').hidden = mode !== 'micro-batch';
  }

  return {
    async refresh() {
      let job;
      try {
        job = await api.job(id);
      } catch (error) {
        if (alive && error.status === 404 && !lastJob) {
          setHtml($('#job-header'), html`<p class="empty">No job ${id} on this job manager.</p>`);
        }
        throw error;
      }
      if (!alive) return;
      drawJob(job);

      const vertexId = selected;
      // Answers that arrive after the page was left are dropped.
      const live = (draw) => (answer) => {
        if (alive) draw(answer);
      };
      const parts = [
        api.checkpoints(id).then(live((c) => {
          setHtml($('#checkpoint-summary'), checkpointSummary(c));
          setHtml($('#checkpoint-history'), checkpointsTable(c));
        })),
        api.exceptions(id).then(live((e) => setHtml($('#job-exceptions'), exceptionsTable(e)))),
      ];
      if (mode === 'micro-batch') {
        parts.push(api.batches(id).then(live((b) => setHtml($('#job-batches'), batchesTable(b)))));
      }
      if (vertexId !== null) {
        parts.push(api.vertex(id, vertexId).then(live((v) => {
          if (selected !== vertexId) return;
          $('#vertex-title').textContent = `Subtasks of ${v.name ?? vertexId} (parallelism ${integer(v.parallelism)})`;
          setHtml($('#vertex-subtasks'), subtasksTable(v, job.now));
        })));
      }
      const results = await Promise.allSettled(parts);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
    unmount() {
      alive = false;
      throughput.destroy();
      lagChart.destroy();
    },
  };
}
