// Live time-series charts drawn by uPlot (vendor/uPlot.iife.min.js, the
// global `uPlot`), and the in-memory sample history they show.
//
// A job's samples outlive its page, so leaving a job and coming back keeps
// its last minutes; a gap in polling shows as a gap in the lines.

import { compact, duration } from './format.js';

/** How long samples are kept. */
export const kHistorySeconds = 300;
/** Two samples further apart than this are not joined by a line. */
const kGapSeconds = 5;
/** Jobs whose samples are kept at once; the least recently viewed goes first. */
const kMaxJobs = 8;

/** Steps between time ticks, in seconds: whole seconds and up. */
const kTimeSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

const histories = new Map();

/** Seconds since the epoch as a local time of day, "17:52:05". */
function clock(seconds) {
  const date = new Date(seconds * 1000);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/**
 * The samples of one job: `t` in seconds since the epoch, then one array per
 * series, each the same length as `t`; `null` where a value is unknown.
 */
export class SampleHistory {
  constructor(seriesCount) {
    this.t = [];
    this.series = Array.from({ length: seriesCount }, () => []);
  }

  /** Adds a sample at `seconds`; an older or equal time is ignored. */
  push(seconds, values) {
    const last = this.t.length ? this.t[this.t.length - 1] : null;
    if (last !== null && seconds <= last) return false;
    if (last !== null && seconds - last > kGapSeconds) {
      this.t.push(last + kGapSeconds / 2);
      for (const s of this.series) s.push(null);
    }
    this.t.push(seconds);
    this.series.forEach((s, i) => s.push(values[i] ?? null));
    let drop = 0;
    while (drop < this.t.length && this.t[drop] < seconds - kHistorySeconds) drop += 1;
    if (drop > 0) {
      this.t.splice(0, drop);
      for (const s of this.series) s.splice(0, drop);
    }
    return true;
  }

  data() {
    return [this.t, ...this.series];
  }
}

/** The history of `key` (created with `seriesCount` series when new). */
export function historyFor(key, seriesCount) {
  let history = histories.get(key);
  if (history) {
    histories.delete(key);
  } else {
    history = new SampleHistory(seriesCount);
  }
  histories.set(key, history);
  while (histories.size > kMaxJobs) histories.delete(histories.keys().next().value);
  return history;
}

export const formats = {
  rate: (value) => (value === null || value === undefined ? '\u2014' : `${compact(value)}/s`),
  millis: (value) => (value === null || value === undefined ? '\u2014' : duration(value)),
};

/**
 * One chart in `container`. `series` is a list of `{label, colour, dash?}`;
 * `format` turns a y value into text for the axis and the legend.
 */
export class LiveChart {
  constructor(container, { series, format, height = 170 }) {
    this.container = container;
    const width = Math.max(container.clientWidth, 200);
    const options = {
      width,
      height,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        {
          stroke: '#56606b', space: 70,
          grid: { stroke: '#eceff2' }, ticks: { stroke: '#d5dade' },
          incrs: kTimeSteps,
          values: (u, ticks) => ticks.map(clock),
        },
        {
          stroke: '#56606b', size: 60,
          grid: { stroke: '#eceff2' }, ticks: { stroke: '#d5dade' },
          values: (u, values) => values.map(format),
        },
      ],
      series: [
        { value: (u, seconds) => (seconds === null || seconds === undefined ? '\u2014' : clock(seconds)) },
        ...series.map(({ label, colour, dash }) => ({
          label,
          stroke: colour,
          dash,
          width: 1.5,
          fill: `${colour}14`,
          spanGaps: false,
          points: { show: false },
          value: (u, value) => format(value),
        })),
      ],
    };
    this.plot = new uPlot(options, [[], ...series.map(() => [])], container);
    this.resizer = new ResizeObserver(() => {
      const w = Math.max(this.container.clientWidth, 200);
      if (w !== this.plot.width) this.plot.setSize({ width: w, height });
    });
    this.resizer.observe(container);
  }

  setData(data) {
    this.plot.setData(data);
  }

  destroy() {
    this.resizer.disconnect();
    this.plot.destroy();
  }
}
