// The tables of the job page, as markup built from the API's answers:
// subtasks of a vertex, checkpoint history, exceptions and micro-batches.
// Pure functions of their input.

import {
  bytes, count, duration, html, integer, kDash, msPerSecondPercent, orDash, perSecond, timestamp,
} from './format.js';
import { statusBadge } from './widgets.js';

function list(value) {
  return Array.isArray(value) ? value : [];
}

/** GET /jobs/{id}/vertices/{vertex}: one row per subtask. */
export function subtasksTable(vertex, now) {
  const subtasks = list(vertex.subtasks);
  if (subtasks.length === 0) return html`<p class="empty">No subtasks reported yet.</p>`;
  const rows = subtasks.map((s) => {
    const watermark = s['input-watermark'];
    const lag = typeof watermark === 'number' && typeof now === 'number' ? now - watermark : null;
    return html`<tr data-testid="subtask-row" data-subtask="${s.subtask}">
      <td class="num">${integer(s.subtask)}</td>
      <td>${orDash(s.taskmanager)}</td>
      <td data-testid="subtask-status">${orDash(s.status)}</td>
      <td class="num" data-testid="records-in">${integer(s['records-in'])}</td>
      <td class="num" data-testid="records-out">${integer(s['records-out'])}</td>
      <td class="num">${perSecond(s['records-in-per-second'])}</td>
      <td class="num">${perSecond(s['records-out-per-second'])}</td>
      <td class="num">${msPerSecondPercent(s['busy-ms-per-second'])}</td>
      <td class="num">${msPerSecondPercent(s['idle-ms-per-second'])}</td>
      <td class="num">${msPerSecondPercent(s['backpressured-ms-per-second'])}</td>
      <td>${typeof watermark === 'number' ? timestamp(watermark, { millis: true }) : kDash}</td>
      <td class="num">${lag === null ? kDash : duration(lag)}</td>
    </tr>`;
  });
  return html`<table class="data" data-testid="subtasks-table">
    <thead><tr><th class="num">Subtask</th><th>Task manager</th><th>Status</th>
      <th class="num">Records in</th>
      <th class="num">Records out</th><th class="num">In</th><th class="num">Out</th>
      <th class="num">Busy</th><th class="num">Idle</th><th class="num">Backpressured</th>
      <th>Input watermark</th><th class="num">Watermark lag</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

/** The counts and the latest completed checkpoint, above the history. */
export function checkpointSummary(checkpoints) {
  const counts = checkpoints.counts ?? {};
  const latest = checkpoints.latest?.completed;
  return html`<dl class="inline-stats" data-testid="checkpoint-counts">
      <div><dt>Completed</dt><dd data-testid="checkpoints-completed">${integer(counts.completed)}</dd></div>
      <div><dt>Failed</dt><dd data-testid="checkpoints-failed">${integer(counts.failed)}</dd></div>
      <div><dt>In progress</dt><dd data-testid="checkpoints-in-progress">${integer(counts.in_progress)}</dd></div>
      <div><dt>Total</dt><dd data-testid="checkpoints-total">${integer(counts.total)}</dd></div>
      ${latest ? html`<div><dt>Latest completed</dt><dd>#${integer(latest.id)} at ${timestamp(latest.trigger_timestamp)},
        ${duration(latest.end_to_end_duration)}, ${bytes(latest.checkpointed_size)}</dd></div>` : ''}
    </dl>`;
}

/** GET /jobs/{id}/checkpoints: the history, newest first. */
export function checkpointsTable(checkpoints) {
  const history = list(checkpoints.history);
  if (history.length === 0) return html`<p class="empty">No checkpoints yet.</p>`;
  const rows = history.map((c) => html`<tr data-testid="checkpoint-row" data-checkpoint-id="${c.id}">
      <td class="num">${integer(c.id)}${c.final ? html` <span class="tag">final</span>` : ''}</td>
      <td data-testid="checkpoint-status">${statusBadge(c.status)}</td>
      <td>${timestamp(c.trigger_timestamp, { millis: true })}</td>
      <td class="num">${duration(c.end_to_end_duration)}</td>
      <td class="num">${duration(c.synchronous_duration)}</td>
      <td class="num">${duration(c.asynchronous_duration)}</td>
      <td class="num">${duration(c.alignment_duration)}</td>
      <td class="num">${bytes(c.checkpointed_size)}</td>
      <td class="num">${bytes(c.state_size)}</td>
      <td class="num">${integer(c.num_acknowledged_subtasks)}/${integer(c.num_subtasks)}</td>
      <td class="message-cell">${orDash(c.failure_message)}</td>
    </tr>`);
  return html`<table class="data" data-testid="checkpoints-table">
    <thead><tr><th class="num">ID</th><th>Status</th><th>Triggered</th><th class="num">End to end</th>
      <th class="num">Sync</th><th class="num">Async</th><th class="num">Alignment</th>
      <th class="num">Checkpointed</th><th class="num">State size</th><th class="num">Acknowledged</th>
      <th>Failure</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

/** GET /jobs/{id}/exceptions: newest first. */
export function exceptionsTable(answer) {
  const exceptions = list(answer.exceptions);
  if (exceptions.length === 0) return html`<p class="empty">No exceptions.</p>`;
  const rows = exceptions.map((e) => html`<tr data-testid="exception-row">
      <td>${timestamp(e.timestamp, { millis: true })}</td>
      <td class="num">${integer(e.attempt)}</td>
      <td>${orDash(e.taskmanager)}</td>
      <td>${orDash(e.kind)}</td>
      <td class="message-cell">${orDash(e.message)}</td>
    </tr>`);
  return html`<table class="data" data-testid="exceptions-table">
    <thead><tr><th>Time</th><th class="num">Attempt</th><th>Task manager</th><th>Kind</th>
      <th>Message</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

function stateMemory(batch) {
  const operators = list(batch.stateOperators);
  if (operators.length === 0) return kDash;
  return bytes(operators.reduce((sum, o) => sum + (Number(o.memoryUsedBytes) || 0), 0));
}

/** GET /jobs/{id}/batches: shown newest first (the API lists them newest last). */
export function batchesTable(answer) {
  const batches = list(answer.batches);
  if (batches.length === 0) return html`<p class="empty">No batches committed yet.</p>`;
  const rows = [...batches].reverse().map((b) => {
    const d = b.durationMs ?? {};
    return html`<tr data-testid="batch-row" data-batch-id="${b.batchId}">
      <td class="num">${integer(b.batchId)}${b.replayed ? html` <span class="tag">replayed</span>` : ''}</td>
      <td>${timestamp(b.timestamp, { millis: true })}</td>
      <td class="num">${count(b.numInputRows)}</td>
      <td class="num">${perSecond(b.inputRowsPerSecond)}</td>
      <td class="num">${perSecond(b.processedRowsPerSecond)}</td>
      <td class="num">${duration(d.triggerExecution)}</td>
      <td class="num">${duration(d.addBatch)}</td>
      <td class="num">${duration(d.walCommit)}</td>
      <td class="num">${duration(d.queryPlanning)}</td>
      <td>${timestamp(b.eventTime?.watermark, { millis: true })}</td>
      <td class="num">${stateMemory(b)}</td>
    </tr>`;
  });
  return html`<table class="data" data-testid="batches-table">
    <thead><tr><th class="num">Batch</th><th>Committed</th><th class="num">Rows</th>
      <th class="num">Input rows/s</th><th class="num">Processed rows/s</th><th class="num">Trigger</th>
      <th class="num">Add batch</th><th class="num">WAL commit</th><th class="num">Planning</th>
      <th>Watermark</th><th class="num">State memory</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}
