// Small pieces of markup and DOM updates the pages share.

import { html } from './format.js';

const kStates = new Set(['waiting', 'running', 'finished', 'failed', 'cancelled']);

/** A job state as a coloured badge. */
export function stateBadge(state) {
  const known = kStates.has(state) ? state : 'unknown';
  return html`<span class="badge state-${known}" data-testid="job-state-badge">${state ?? '?'}</span>`;
}

/** A checkpoint status (IN_PROGRESS, COMPLETED, FAILED) as a coloured badge. */
export function statusBadge(status) {
  const kind = { COMPLETED: 'ok', FAILED: 'bad', IN_PROGRESS: 'busy' }[status] ?? 'unknown';
  return html`<span class="badge status-${kind}">${status ?? '?'}</span>`;
}

/**
 * Replaces the markup of `element` only when it changed, so an unchanged
 * table keeps its text selection and hover state across polls.
 */
const rendered = new WeakMap();

export function setHtml(element, markup) {
  const text = String(markup);
  if (rendered.get(element) === text) return;
  element.innerHTML = text;
  rendered.set(element, text);
}
