// The job manager's REST API (docs/rest.md), one function per endpoint.
// Paths are relative to the page, so the dashboard also works behind a proxy
// that serves it under a prefix. Mutating requests carry the bearer token the
// user entered, when there is one.

const kTokenKey = 'sluice.rest-token';

/** A request that failed: `message` is the server's `error` text when it sent one. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

export function token() {
  try {
    return localStorage.getItem(kTokenKey) || '';
  } catch {
    return '';
  }
}

export function setToken(value) {
  try {
    if (value) localStorage.setItem(kTokenKey, value);
    else localStorage.removeItem(kTokenKey);
  } catch {
    // Storage can be disabled; the token then lasts as long as the page.
  }
}

async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    const bearer = token();
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
  }
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(`${method} /${path}: the job manager does not answer`, 0);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (data && typeof data.error === 'string') throw new ApiError(data.error, response.status);
    throw new ApiError(`${method} /${path}: ${response.status} ${response.statusText}`, response.status);
  }
  if (data === null || typeof data !== 'object') {
    throw new ApiError(`${method} /${path}: the answer is not a JSON object`, response.status);
  }
  return data;
}

const job = (id) => `jobs/${encodeURIComponent(id)}`;

export const api = {
  overview: () => request('GET', 'overview'),
  topologies: () => request('GET', 'topologies'),
  taskmanagers: () => request('GET', 'taskmanagers'),
  jobs: () => request('GET', 'jobs'),
  job: (id) => request('GET', job(id)),
  vertex: (id, vertex) => request('GET', `${job(id)}/vertices/${encodeURIComponent(vertex)}`),
  checkpoints: (id) => request('GET', `${job(id)}/checkpoints`),
  exceptions: (id) => request('GET', `${job(id)}/exceptions`),
  batches: (id) => request('GET', `${job(id)}/batches`),

  /** `{topology, args, name?}` → `{jobid}`. */
  submit: (submission) => request('POST', 'jobs', submission),
  cancel: (id) => request('POST', `${job(id)}/cancel`, {}),
  /** → `{"request-id": N}`, the id of the checkpoint that started. */
  triggerCheckpoint: (id) => request('POST', `${job(id)}/checkpoints`, {}),
};
