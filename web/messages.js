// The message area under the top bar: errors (data-testid="error") and
// notices. Each message has a source key, so the poll loop can clear its own
// error when the next poll succeeds without hiding an action's error.

import { html } from './format.js';

const errors = new Map();
let notice = null;
let errorArea = null;
let noticeArea = null;

export function attach(errorElement, noticeElement) {
  errorArea = errorElement;
  noticeArea = noticeElement;
  errorArea.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-dismiss]');
    if (!button) return;
    errors.delete(button.dataset.dismiss);
    draw();
  });
  noticeArea.addEventListener('click', (event) => {
    if (!event.target.closest('button[data-dismiss]')) return;
    notice = null;
    draw();
  });
  draw();
}

/** Shows `text` as the error of `source`, with an optional label naming what failed. */
export function showError(source, text, label = '') {
  errors.set(source, { text, label });
  draw();
}

export function clearError(source) {
  if (errors.delete(source)) draw();
}

/** Shows a notice; `body` is markup from `html`. */
export function showNotice(body) {
  notice = body;
  draw();
}

function draw() {
  if (!errorArea) return;
  errorArea.innerHTML = html`${[...errors].map(
    ([source, { text, label }]) => html`<div class="message-line">
      ${label ? html`<span class="message-label">${label}:</span> ` : ''}<span class="message-text">${text}</span>
      <button type="button" class="dismiss" data-dismiss="${source}" title="Dismiss" aria-label="Dismiss"></button></div>`,
  )}`;
  errorArea.hidden = errors.size === 0;
  noticeArea.innerHTML = notice
    ? html`<div class="message-line">${notice}
      <button type="button" class="dismiss" data-dismiss="notice" title="Dismiss" aria-label="Dismiss"></button></div>`
    : '';
  noticeArea.hidden = !notice;
}
