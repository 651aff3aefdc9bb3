// HTML escaping and the number, size, time and duration formats every page
// uses. Pure functions; no DOM access.

const kEscapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML content and attribute values. */
export function escape(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => kEscapes[c]);
}

/** Markup built by `html`; interpolating it again does not escape it twice. */
class Markup {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
}

function render(value) {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escape(value);
}

/**
 * Template tag for markup: every interpolated value is escaped unless it is
 * itself the result of `html`; arrays are concatenated, null and false drop
 * out. Pages build all their markup with it, so no API string reaches the DOM
 * unescaped.
 */
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1];
  });
  return new Markup(out);
}

export const kDash = '\u2014';

function finite(n) {
  return typeof n === 'number' && Number.isFinite(n);
}

/** A count as a plain integer ("52000"), for cells that tests and scripts read. */
export function integer(n) {
  return finite(n) ? String(Math.round(n)) : kDash;
}

/** A count with thousands separators ("52,000"). */
export function count(n) {
  return finite(n) ? Math.round(n).toLocaleString('en-US') : kDash;
}

/** A rate or large number in short form: 0.5, 12, 10.4k, 3.2M. */
export function compact(n) {
  if (!finite(n)) return kDash;
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(1)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(0)}k`;
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  if (abs >= 10 || n === 0) return n.toFixed(0);
  return n.toFixed(1);
}

export function perSecond(n) {
  return finite(n) ? `${compact(n)}/s` : kDash;
}

/** Bytes in binary units: "812 B", "20.0 KiB", "1.5 GiB". */
export function bytes(n) {
  if (!finite(n)) return kDash;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A duration in milliseconds: "42 ms", "5.3 s", "2m 03s", "1h 02m 03s". */
export function duration(ms) {
  if (!finite(ms)) return kDash;
  if (Math.abs(ms) < 10 && !Number.isInteger(ms)) return `${ms.toFixed(1)} ms`;
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  if (h === 0) return `${m}m ${s}s`;
  return `${h}h ${String(m).padStart(2, '0')}m ${s}s`;
}

/** A fraction of a second spent in a state ("busy-ms-per-second") as a percentage. */
export function msPerSecondPercent(ms) {
  return finite(ms) ? `${Math.round(Math.min(Math.max(ms, 0), 1000) / 10)}%` : kDash;
}

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

/** A time (ms since the epoch, or an ISO string) in local time; the date only when not today. */
export function timestamp(value, { millis = false } = {}) {
  if (value === null || value === undefined || value === '') return kDash;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  let time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  if (millis) time += `.${pad(date.getMilliseconds(), 3)}`;
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return time;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}`;
}

export function orDash(value) {
  return value === null || value === undefined || value === '' ? kDash : value;
}
