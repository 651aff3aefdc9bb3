// The task managers page (#/taskmanagers): GET /taskmanagers as a table.

import { api } from './api.js';
import { bytes, duration, html, integer, kDash, orDash } from './format.js';
import { setHtml } from './widgets.js';

function port(value) {
  return value === null || value === undefined || value === 0 ? kDash : integer(value);
}

function table(taskmanagers) {
  if (taskmanagers.length === 0) return html`<p class="empty">No task manager is registered.</p>`;
  const rows = taskmanagers.map((tm) => html`<tr data-testid="taskmanager-row" data-taskmanager-id="${tm.id}">
      <td>${orDash(tm.id)}</td>
      <td>${orDash(tm.host)}</td>
      <td class="num">${port(tm.dataPort)}</td>
      <td class="num">${port(tm.metricsPort)}</td>
      <td class="num">${integer(tm.slotsNumber)}</td>
      <td class="num">${integer(tm.freeSlots)}</td>
      <td class="num">${duration(tm.timeSinceLastHeartbeat)}</td>
      <td class="num">${bytes(tm.memory?.rss)}</td>
    </tr>`);
  return html`<table class="data" data-testid="taskmanagers-table">
    <thead><tr><th>ID</th><th>Host</th><th class="num">Data port</th><th class="num">Metrics port</th>
      <th class="num">Slots</th><th class="num">Free slots</th><th class="num">Heartbeat age</th>
      <th class="num">Memory (RSS)</th></tr></thead>
    <tbody>${rows}</tbody></table>`;
}

export function mountTaskManagers(root) {
  root.innerHTML = html`<section class="panel">
      <h2>Task managers</h2>
      <div id="taskmanagers"><p class="empty">Loading\u2026</p></div>
    </section>`;
  const area = root.querySelector('#taskmanagers');
  let alive = true;
  return {
    async refresh() {
      const answer = await api.taskmanagers();
      if (!alive) return;
      const list = Array.isArray(answer.taskmanagers) ? answer.taskmanagers : [];
      setHtml(area, table([...list].sort((a, b) => String(a.id).localeCompare(String(b.id)))));
    },
    unmount() {
      alive = false;
    },
  };
}
