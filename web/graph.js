// The job graph: one SVG node per vertex and one arrow per edge, laid out by
// dagre (vendor/dagre.min.js, the global `dagre`). The layout is computed
// again only when the graph's shape changes; every poll just updates the
// nodes' text and colours, so a click is never lost to a redraw.
//
// Colours: the fill goes from green (idle) to red (busy) with the vertex's
// busy time per second; a vertex backpressured at least 10% of the time gets
// a purple border, a thick one from 50%. The legend in index.html says so.

import { compact, msPerSecondPercent } from './format.js';

const kSvg = 'http://www.w3.org/2000/svg';
const kNodeWidth = 220;
const kNodeHeight = 66;
const kLabelWidth = 120;
const kLabelHeight = 16;
export const kBackpressureLow = 0.1;
export const kBackpressureHigh = 0.5;

function svg(tag, attributes = {}, parent = null) {
  const element = document.createElementNS(kSvg, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (parent) parent.appendChild(element);
  return element;
}

function fraction(msPerSecond) {
  const value = Number(msPerSecond);
  return Number.isFinite(value) ? Math.min(Math.max(value / 1000, 0), 1) : 0;
}

/** The fill for a vertex busy `busy` (0..1) of the time: green, through yellow, to red. */
export function busyColour(busy) {
  const hue = Math.round(120 * (1 - busy));
  return `hsl(${hue}, 62%, ${84 - Math.round(12 * busy)}%)`;
}

/** Shortens the text of an SVG <text> element (in the document) with an ellipsis until it fits `width`. */
function fitText(element, width) {
  const full = element.textContent;
  if (element.getComputedTextLength() <= width) return;
  let low = 0;
  let high = full.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    element.textContent = `${full.slice(0, middle)}\u2026`;
    if (element.getComputedTextLength() <= width) low = middle;
    else high = middle - 1;
  }
  element.textContent = `${full.slice(0, low)}\u2026`;
}

function shapeKey(vertices, edges) {
  return JSON.stringify([
    vertices.map((v) => [v.id, v.name, v.parallelism]),
    edges.map((e) => [e.source, e.target, e.partitioning]),
  ]);
}

export class JobGraph {
  /** `onSelect(vertexId)` is called when the user clicks a vertex. */
  constructor(container, onSelect) {
    this.container = container;
    this.onSelect = onSelect;
    this.shape = null;
    this.nodes = new Map(); // vertex id -> {group, box, ring, name, detail, rates}
    this.edgeLabels = []; // {source, partitioning, text}
    this.selected = null;
  }

  /** Draws `job.vertices` and `job.edges` (GET /jobs/{id}); `selected` is a vertex id or null. */
  update(job, selected) {
    const vertices = Array.isArray(job.vertices) ? job.vertices : [];
    const edges = Array.isArray(job.edges) ? job.edges : [];
    const key = shapeKey(vertices, edges);
    if (key !== this.shape) {
      this.shape = key;
      this.layout(vertices, edges);
    }
    const byId = new Map(vertices.map((v) => [String(v.id), v]));
    for (const [id, node] of this.nodes) this.paintNode(node, byId.get(id));
    for (const label of this.edgeLabels) {
      const source = byId.get(label.source);
      const rate = source?.metrics?.['records-out-per-second'];
      label.text.textContent = `${label.partitioning} \u00b7 ${compact(rate)}/s`;
    }
    this.select(selected);
  }

  select(selected) {
    this.selected = selected;
    for (const [id, node] of this.nodes) {
      node.ring.setAttribute('visibility', id === selected ? 'visible' : 'hidden');
      node.group.setAttribute('aria-pressed', id === selected ? 'true' : 'false');
    }
  }

  layout(vertices, edges) {
    this.nodes = new Map();
    this.edgeLabels = [];
    if (vertices.length === 0) {
      const note = document.createElement('p');
      note.className = 'empty';
      note.textContent = 'The job has no graph yet.';
      this.container.replaceChildren(note);
      return;
    }
    const graph = new dagre.graphlib.Graph({ multigraph: true });
    graph.setGraph({ rankdir: 'LR', nodesep: 28, ranksep: 90, edgesep: 16, marginx: 12, marginy: 12 });
    graph.setDefaultEdgeLabel(() => ({}));
    for (const vertex of vertices) {
      graph.setNode(String(vertex.id), { width: kNodeWidth, height: kNodeHeight });
    }
    edges.forEach((edge, index) => {
      const source = String(edge.source);
      const target = String(edge.target);
      if (!graph.hasNode(source) || !graph.hasNode(target)) return;
      graph.setEdge(source, target,
        { width: kLabelWidth, height: kLabelHeight, labelpos: 'c', partitioning: edge.partitioning },
        `e${index}`);
    });
    dagre.layout(graph);

    const { width, height } = graph.graph();
    const root = svg('svg', {
      class: 'job-graph',
      viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
      width: Math.ceil(width),
      height: Math.ceil(height),
      role: 'img',
      'aria-label': 'job graph',
    });
    const defs = svg('defs', {}, root);
    const marker = svg('marker', {
      id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse',
    }, defs);
    svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'edge-arrow' }, marker);

    const edgeLayer = svg('g', { class: 'edges' }, root);
    for (const e of graph.edges()) {
      const edge = graph.edge(e);
      const d = edge.points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
      svg('path', { d, class: 'edge', 'marker-end': 'url(#arrow)' }, edgeLayer);
      if (Number.isFinite(edge.x) && Number.isFinite(edge.y)) {
        svg('rect', {
          x: edge.x - kLabelWidth / 2, y: edge.y - kLabelHeight / 2,
          width: kLabelWidth, height: kLabelHeight, rx: 3, class: 'edge-label-box',
        }, edgeLayer);
        const text = svg('text', { x: edge.x, y: edge.y + 4, class: 'edge-label', 'data-testid': 'edge-label' }, edgeLayer);
        this.edgeLabels.push({ source: e.v, partitioning: String(edge.partitioning ?? ''), text });
      }
    }

    const nodeLayer = svg('g', { class: 'nodes' }, root);
    for (const vertex of vertices) {
      const id = String(vertex.id);
      const placed = graph.node(id);
      const x = placed.x - kNodeWidth / 2;
      const y = placed.y - kNodeHeight / 2;
      const group = svg('g', {
        class: 'vertex', transform: `translate(${x.toFixed(1)} ${y.toFixed(1)})`,
        'data-testid': 'vertex', 'data-vertex-id': id, tabindex: 0, role: 'button',
      }, nodeLayer);
      const title = svg('title', {}, group);
      title.textContent = `${vertex.name ?? id}${Array.isArray(vertex.operators) ? `\noperators: ${vertex.operators.join(', ')}` : ''}`;
      const ring = svg('rect', {
        x: -5, y: -5, width: kNodeWidth + 10, height: kNodeHeight + 10, rx: 9, class: 'vertex-ring',
      }, group);
      const box = svg('rect', { width: kNodeWidth, height: kNodeHeight, rx: 5, class: 'vertex-box' }, group);
      const name = svg('text', { x: 10, y: 19, class: 'vertex-name' }, group);
      name.textContent = String(vertex.name ?? id);
      const detail = svg('text', { x: 10, y: 37, class: 'vertex-detail' }, group);
      const rates = svg('text', { x: 10, y: 55, class: 'vertex-detail' }, group);
      const activate = () => this.onSelect(id);
      group.addEventListener('click', activate);
      group.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          activate();
        }
      });
      this.nodes.set(id, { group, box, ring, name, detail, rates });
    }

    this.container.replaceChildren(root);
    for (const { name } of this.nodes.values()) fitText(name, kNodeWidth - 18);
  }

  paintNode(node, vertex) {
    const metrics = vertex?.metrics ?? {};
    const busy = fraction(metrics['busy-ms-per-second']);
    const backpressured = fraction(metrics['backpressured-ms-per-second']);
    node.box.setAttribute('fill', busyColour(busy));
    let border = 'normal';
    if (backpressured >= kBackpressureHigh) border = 'high';
    else if (backpressured >= kBackpressureLow) border = 'low';
    node.box.setAttribute('data-backpressure', border);
    node.detail.textContent = `parallelism ${vertex?.parallelism ?? '?'} \u00b7 busy ${msPerSecondPercent(metrics['busy-ms-per-second'])}`
      + ` \u00b7 bp ${msPerSecondPercent(metrics['backpressured-ms-per-second'])}`;
    node.rates.textContent = `in ${compact(metrics['records-in-per-second'])}/s \u00b7 out ${compact(metrics['records-out-per-second'])}/s`;
  }
}
