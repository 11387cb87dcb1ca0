// The dashboard page: one EventSource for state (services, plan, history, stats),
// one for the merged logs, a WebSocket for the terminal. No polling: the server
// pushes every change. A time cursor (click a log line, a chart or a reconcile)
// is shared by the logs, the charts and the history.

const $ = (s) => document.querySelector(s);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const k of kids.flat()) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
};

const state = { services: [], plan: undefined, history: [], stats: {}, cursor: undefined, logServices: new Set() };
const NET_COLOURS = ['#39c5cf', '#d29922', '#3fb950', '#bc8cff', '#58a6ff', '#f0883e'];
const netColour = new Map();
const colourOfNet = (n) => {
  if (!netColour.has(n)) netColour.set(n, NET_COLOURS[netColour.size % NET_COLOURS.length]);
  return netColour.get(n);
};

// ------------------------------------------------------------ server stream
function connect() {
  const es = new EventSource('/api/events');
  es.onopen = () => { $('#conn').textContent = 'live'; $('#conn').className = 'conn live'; };
  es.onerror = () => { $('#conn').textContent = 'connection lost (retrying)'; $('#conn').className = 'conn lost'; };
  es.addEventListener('snapshot', (ev) => {
    const s = JSON.parse(ev.data);
    $('#project').textContent = s.project;
    document.title = `tsstack · ${s.project}`;
    state.services = s.services; state.plan = s.plan; state.history = s.history; state.stats = s.stats;
    renderServices(); renderPlan(); renderHistory(); renderCharts(); relog();
  });
  es.addEventListener('services', (ev) => { state.services = JSON.parse(ev.data); renderServices(); renderCharts(); relogIfChanged(); });
  es.addEventListener('plan', (ev) => { state.plan = JSON.parse(ev.data); renderPlan(); });
  es.addEventListener('history', (ev) => {
    const h = JSON.parse(ev.data);
    const i = state.history.findIndex((x) => x.id === h.id);
    if (i >= 0) state.history[i] = h; else state.history.push(h);
    renderHistory();
  });
  es.addEventListener('stats', (ev) => {
    for (const [id, s] of Object.entries(JSON.parse(ev.data))) {
      const a = (state.stats[id] ??= []);
      a.push(s);
      if (a.length > 120) a.shift();
    }
    drawCharts();
  });
}

async function post(path, body = {}) {
  const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error ?? `${r.status} ${r.statusText}`);
  return j;
}

// ------------------------------------------------------------ services graph
function statusText(c) {
  if (c.status === 'exited') return `exited (${c.exitCode ?? '?'})`;
  const h = c.health ? ` (${c.health})` : '';
  return `${c.status}${h}${c.crashed ? ' · restarted' : ''}`;
}

/** Columns by depth along depends_on (a service right of what it depends on). */
function layout(services) {
  const by = new Map(services.map((s) => [s.name, s]));
  const depth = new Map();
  const d = (n, seen = new Set()) => {
    if (depth.has(n)) return depth.get(n);
    if (seen.has(n)) return 0;
    seen.add(n);
    const deps = by.get(n)?.dependsOn ?? [];
    const v = deps.length ? 1 + Math.max(...deps.map((x) => d(x, seen))) : 0;
    depth.set(n, v);
    return v;
  };
  const cols = [];
  for (const s of services) (cols[d(s.name)] ??= []).push(s.name);
  const pos = new Map();
  cols.forEach((names, x) => names.forEach((n, y) => pos.set(n, { x: 10 + x * 330, y: 10 + y * 150 })));
  return pos;
}

function action(verb, c) {
  return el('button', { type: 'button', title: `${verb} ${c.name}`, 'data-testid': `${verb}-${c.name}`, onclick: async (e) => {
    const b = e.currentTarget;
    b.disabled = true;
    try {
      if (verb === 'exec') return await execDialog(c);
      if (verb === 'shell') return openShell(c);
      await post(`/api/containers/${encodeURIComponent(c.id)}/${verb}`);
    } catch (err) {
      alert(`${verb} ${c.name}: ${err.message}`);
    } finally {
      b.disabled = false;
    }
  } }, { restart: '⟳', stop: '■', start: '▶', exec: '$', shell: '>_' }[verb]);
}

function renderServices() {
  const g = $('#graph');
  const pos = layout(state.services);
  for (const n of [...g.querySelectorAll('.node')]) n.remove();
  let w = 0, h = 0;
  for (const s of state.services) {
    const p = pos.get(s.name);
    const health = s.containers.map((c) => c.healthOutput).filter(Boolean).at(-1);
    const node = el('div', { class: 'node', 'data-testid': `service-${s.name}`, 'data-state': s.state, style: `left:${p.x}px;top:${p.y}px` },
      el('div', {}, el('span', { class: `dot ${s.state}` }), el('span', { class: 'name' }, s.name), ' ',
        el('span', { class: 'meta', 'data-testid': `replicas-${s.name}` }, `${s.replicas.running}/${s.replicas.want ?? s.containers.length} running`),
        s.restarts ? el('span', { class: 'meta', 'data-testid': `restarts-${s.name}` }, ` · ${s.restarts} restart${s.restarts === 1 ? '' : 's'}`) : null),
      el('div', { class: 'meta' }, s.image ?? ''),
      el('div', {}, s.networks.map((n) => el('span', { class: 'net', style: `background:${colourOfNet(n)}` }, n)),
        s.ports.map((p) => p.url ? el('a', { href: p.url, target: '_blank', rel: 'noopener noreferrer' }, `${p.hostPort}→${p.containerPort}`) : el('span', { class: 'meta' }, `${p.hostPort}→${p.containerPort}/${p.protocol} `))),
      health ? el('div', { class: 'health', 'data-testid': `health-${s.name}`, title: health }, `health: ${health}`) : null,
      s.containers.map((c) => el('div', { class: 'ctr', 'data-testid': `container-${c.name}`, 'data-status': c.status, 'data-health': c.health ?? '' },
        el('span', { class: 'st' }, `#${c.number} ${statusText(c)}`),
        action('restart', c), action('stop', c), action('start', c), action('exec', c), action('shell', c))));
    g.append(node);
    w = Math.max(w, p.x + 300);
    h = Math.max(h, p.y + node.offsetHeight + 10);
  }
  g.style.height = `${h}px`;
  g.style.minWidth = `${w}px`;
  // depends_on edges, from the dependency to its dependent
  const svg = $('#edges');
  svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8b949e"/></marker></defs>';
  for (const s of state.services) {
    for (const d of s.dependsOn) {
      const a = pos.get(d), b = pos.get(s.name);
      if (!a || !b) continue;
      const line = document.createElementNS('http://www.w3.org/2000/svg', 'path');
      const x1 = a.x + 290, y1 = a.y + 20, x2 = b.x, y2 = b.y + 20;
      line.setAttribute('d', `M${x1},${y1} C${x1 + 20},${y1} ${x2 - 20},${y2} ${x2},${y2}`);
      line.setAttribute('stroke', '#8b949e'); line.setAttribute('fill', 'none'); line.setAttribute('marker-end', 'url(#arrow)');
      svg.append(line);
    }
  }
  renderLogChoices();
}

// ------------------------------------------------------------ plan and history
function renderPlan() {
  const p = state.plan;
  $('#plan').textContent = p ? [p.text, ...p.warnings.map((w) => `warning: ${w}`), ...p.problems.map((x) => `problem: ${x}`)].join('\n') : '…';
  $('#apply').disabled = !p || p.empty;
}
$('#apply').addEventListener('click', async () => {
  $('#apply').disabled = true;
  try { await post('/api/apply'); } catch (e) { alert(`apply: ${e.message}`); }
});
$('#replan').addEventListener('click', async () => {
  const r = await fetch('/api/plan');
  if (r.ok) { state.plan = await r.json(); renderPlan(); }
});

function renderHistory() {
  const ol = $('#history');
  ol.replaceChildren(...[...state.history].reverse().map((h) => el('li', {
    'data-testid': `history-${h.id}`, 'data-state': h.state, class: inHistory(h, state.cursor) ? 'at-cursor' : '',
    onclick: () => setCursor(Date.parse(h.started)),
  },
  el('span', { class: h.state }, h.state), ` ${new Date(h.started).toLocaleTimeString()} · ${h.trigger}`,
  h.durationMs !== undefined ? ` · ${h.durationMs} ms` : '',
  h.plan ? el('pre', {}, h.plan) : null,
  (h.failed ?? []).length ? el('pre', { class: 'failed' }, h.failed.join('\n')) : null)));
}
const inHistory = (h, t) => t !== undefined && t >= Date.parse(h.started) - 500 && t <= Date.parse(h.started) + (h.durationMs ?? 0) + 500;

// ------------------------------------------------------------ charts
// limits: the sample's (memory, as the cgroup says) or the stack file's (cpus as a percentage of one core, pids)
const METRICS = [
  { key: 'cpu', label: 'CPU %', value: (s) => s.cpu, limit: (_s, lim) => (lim.cpus ? lim.cpus * 100 : undefined) },
  { key: 'mem', label: 'memory', value: (s) => s.mem, limit: (s, lim) => s.memLimit ?? lim.memory },
  { key: 'pids', label: 'pids', value: (s) => s.pids, limit: (_s, lim) => lim.pids },
  { key: 'net', label: 'net I/O /s', value: (s, prev) => (prev ? Math.max(0, (s.rx + s.tx - prev.rx - prev.tx) / Math.max(0.001, (s.t - prev.t) / 1000)) : 0), limit: () => undefined },
];
const limitsOf = (id) => state.services.find((s) => s.containers.some((c) => c.id === id))?.limits ?? {};
const human = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB']; let i = 0; while (n >= 1024 && i < 3) { n /= 1024; i++; } return `${n.toFixed(i ? 1 : 0)}${u[i]}`; };

function renderCharts() {
  const box = $('#charts');
  box.replaceChildren(el('span', { class: 'head' }, 'container'), ...METRICS.map((m) => el('span', { class: 'head' }, m.label)));
  for (const s of state.services) for (const c of s.containers) {
    if (c.status !== 'running') continue;
    box.append(el('span', { class: 'label', title: c.name }, c.name));
    for (const m of METRICS) {
      const cv = el('canvas', { 'data-container': c.id, 'data-metric': m.key, width: 300, height: 34 });
      cv.addEventListener('click', (e) => {
        const samples = state.stats[c.id] ?? [];
        if (!samples.length) return;
        const r = cv.getBoundingClientRect();
        const t0 = samples[0].t, t1 = samples.at(-1).t;
        setCursor(t0 + ((e.clientX - r.left) / r.width) * Math.max(1, t1 - t0));
      });
      box.append(cv);
    }
  }
  drawCharts();
}

function drawCharts() {
  for (const cv of document.querySelectorAll('#charts canvas')) {
    const samples = state.stats[cv.dataset.container] ?? [];
    const m = METRICS.find((x) => x.key === cv.dataset.metric);
    // the drawing buffer follows the displayed size (no stretched text)
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.max(1, Math.round(cv.clientWidth * dpr)), ch = Math.max(1, Math.round(cv.clientHeight * dpr));
    if (cv.width !== cw || cv.height !== ch) { cv.width = cw; cv.height = ch; }
    const ctx = cv.getContext('2d');
    const W = cv.width, H = cv.height;
    ctx.clearRect(0, 0, W, H);
    if (!samples.length) continue;
    const vals = samples.map((s, i) => m.value(s, samples[i - 1]));
    const limit = m.limit(samples.at(-1), limitsOf(cv.dataset.container));
    const top = Math.max(1e-9, ...vals, limit ?? 0) * 1.1;
    const t0 = samples[0].t, span = Math.max(1, samples.at(-1).t - t0);
    const x = (t) => ((t - t0) / span) * (W - 2) + 1;
    const y = (v) => H - 2 - (v / top) * (H - 4);
    if (limit) {
      ctx.strokeStyle = '#f85149'; ctx.setLineDash([4, 3]);
      ctx.beginPath(); ctx.moveTo(0, y(limit)); ctx.lineTo(W, y(limit)); ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.strokeStyle = '#58a6ff'; ctx.lineWidth = 1.5; ctx.beginPath();
    samples.forEach((s, i) => (i ? ctx.lineTo(x(s.t), y(vals[i])) : ctx.moveTo(x(s.t), y(vals[i]))));
    ctx.stroke();
    if (state.cursor !== undefined && state.cursor >= t0 && state.cursor <= t0 + span) {
      ctx.strokeStyle = '#d29922'; ctx.beginPath(); ctx.moveTo(x(state.cursor), 0); ctx.lineTo(x(state.cursor), H); ctx.stroke();
    }
    const last = vals.at(-1);
    ctx.fillStyle = '#d8dee4'; ctx.font = `${Math.round(11 * dpr)}px monospace`;
    const text = m.key === 'cpu' ? `${last.toFixed(1)}%${limit ? ` / ${limit}%` : ''}` : m.key === 'pids' ? `${last}${limit ? ` / ${limit}` : ''}` : human(last) + (limit ? ` / ${human(limit)}` : '');
    ctx.fillText(text, 4 * dpr, 12 * dpr);
    cv.title = text;
  }
}

// ------------------------------------------------------------ logs
let logStream;
let logKey = '';
function renderLogChoices() {
  const names = state.services.map((s) => s.name);
  const box = $('#log-services');
  const have = [...box.querySelectorAll('input')].map((i) => i.value);
  if (have.join() === names.join()) return;
  box.replaceChildren(...names.map((n, i) => el('label', { class: `c${i % 10}` }, el('input', {
    type: 'checkbox', value: n, checked: state.logServices.size === 0 || state.logServices.has(n), 'data-testid': `log-choice-${n}`,
    onchange: () => {
      state.logServices = new Set([...box.querySelectorAll('input:checked')].map((x) => x.value));
      relog();
    },
  }), n)));
}
const chosenServices = () => [...document.querySelectorAll('#log-services input:checked')].map((x) => x.value);
/** The containers whose logs are shown, each with its start: a new container or a new start (whose log a follow that ended does not see) means a new stream. */
const logIds = () => state.services.filter((s) => chosenServices().includes(s.name)).flatMap((s) => s.containers.map((c) => `${c.id}@${c.startedAt ?? ''}`)).sort().join();
function relogIfChanged() { if (logIds() !== logKey) relog(); }
function relog() {
  logStream?.close();
  logKey = logIds();
  const services = chosenServices();
  $('#logs').replaceChildren();
  if (!services.length) return;
  const q = services.map((s) => `service=${encodeURIComponent(s)}`).join('&');
  logStream = new EventSource(`/api/logs?${q}&tail=200`);
  logStream.addEventListener('line', (ev) => addLine(JSON.parse(ev.data)));
}
function addLine(l) {
  const box = $('#logs');
  const t = Date.parse(l.t);
  const div = el('div', { class: 'l', 'data-t': t, onclick: () => setCursor(t) },
    el('span', { class: 't' }, new Date(t).toLocaleTimeString(), ' '), el('span', { class: `c${l.colour % 10}` }, l.container, ' | '), el('span', { class: 'm' }, l.line));
  // lines of several containers arrive interleaved: keep them in time order
  let before = null;
  for (let n = box.lastElementChild; n && Number(n.dataset.t) > t; n = n.previousElementSibling) before = n;
  box.insertBefore(div, before);
  while (box.childElementCount > 5000) box.firstElementChild.remove();
  filterLine(div, $('#log-search').value);
  if ($('#log-follow').checked && state.cursor === undefined) box.scrollTop = box.scrollHeight;
}
function filterLine(div, q) {
  const m = div.querySelector('.m');
  const text = m.textContent;
  if (!q) { div.classList.remove('hide'); m.textContent = text; return; }
  const i = text.toLowerCase().indexOf(q.toLowerCase());
  div.classList.toggle('hide', i < 0);
  if (i >= 0) m.replaceChildren(text.slice(0, i), el('mark', {}, text.slice(i, i + q.length)), text.slice(i + q.length));
}
$('#log-search').addEventListener('input', (e) => { for (const d of document.querySelectorAll('#logs .l')) filterLine(d, e.target.value); });

// ------------------------------------------------------------ time cursor
function setCursor(t) {
  state.cursor = t;
  $('#cursor').hidden = t === undefined;
  if (t !== undefined) $('#cursor-time').textContent = new Date(t).toLocaleTimeString(undefined, { hour12: false }) + `.${String(Math.floor(t % 1000)).padStart(3, '0')}`;
  let nearest;
  for (const d of document.querySelectorAll('#logs .l')) {
    d.classList.remove('at-cursor');
    if (t !== undefined && Number(d.dataset.t) <= t) nearest = d;
  }
  if (nearest) { nearest.classList.add('at-cursor'); nearest.scrollIntoView({ block: 'center' }); }
  drawCharts();
  renderHistory();
}
$('#cursor-clear').addEventListener('click', () => setCursor(undefined));

// ------------------------------------------------------------ exec and shell
async function execDialog(c) {
  const command = prompt(`Run in ${c.name} (sh -c):`);
  if (!command) return;
  $('#exec-title').textContent = `${c.name}$ ${command}`;
  $('#exec-output').textContent = '…';
  $('#exec-dialog').showModal();
  try {
    const r = await post(`/api/containers/${encodeURIComponent(c.id)}/exec`, { command });
    $('#exec-output').textContent = `${r.output}\n(exit ${r.code})`;
  } catch (e) {
    $('#exec-output').textContent = e.message;
  }
}

let term, ws;
async function openShell(c) {
  const { Terminal } = await import('/assets/xterm.js');
  if (!document.querySelector('link[href="/assets/xterm.css"]')) document.head.append(el('link', { rel: 'stylesheet', href: '/assets/xterm.css' }));
  $('#shell-title').textContent = `shell in ${c.name}`;
  $('#terminal').replaceChildren();
  $('#shell-dialog').showModal();
  term = new Terminal({ cols: 80, rows: 24, convertEol: false });
  term.open($('#terminal'));
  ws = new WebSocket(`ws://${location.host}/api/shell?container=${encodeURIComponent(c.id)}`);
  ws.binaryType = 'arraybuffer';
  ws.onmessage = (e) => term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
  ws.onclose = (e) => term.write(`\r\n[closed${e.reason ? `: ${e.reason}` : ''}]\r\n`);
  term.onData((d) => ws.readyState === 1 && ws.send(d));
  term.focus();
}
$('#shell-close').addEventListener('click', () => { ws?.close(); term?.dispose(); $('#shell-dialog').close(); });

connect();
