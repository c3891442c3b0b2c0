// atlas-host review UI (docs/review-ui.md). Plain DOM, no framework, no external assets.
// Every piece of stored data is put on the page as text (textContent / createTextNode), never
// as HTML, so a task containing <script> renders as the characters it is.
'use strict';

const state = {
  me: null,          // {actor, csrf, auth}
  filters: {},       // the sessions list's filters (URL query of the list)
  keys: null,        // learning keys with labels (cached)
};

// ---------------------------------------------------------------- DOM helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const svgNs = 'http://www.w3.org/2000/svg';
function s(tag, attrs, ...children) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat()) el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function toast(message, isError) {
  const t = h('div', { class: 'toast' + (isError ? ' error' : ''), role: 'status' }, message);
  document.body.appendChild(t);
  setTimeout(() => t.remove(), isError ? 6000 : 2500);
}

function pill(text, cls) {
  return h('span', { class: 'pill ' + (cls || text || '') }, text || '–');
}

function fmtReward(r) {
  if (r === null || r === undefined) return h('span', { class: 'muted' }, '–');
  const cls = r < 0.4 ? 'low' : r < 0.7 ? 'mid' : '';
  const bar = h('span', { class: 'bar' });
  const fill = h('i');
  fill.style.width = Math.max(0, Math.min(1, r)) * 100 + '%';
  bar.appendChild(fill);
  return h('span', { class: 'reward ' + cls }, bar, r.toFixed(2));
}

function fmtWhen(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fmtNum(n) {
  if (n === null || n === undefined) return '–';
  return Number(n).toLocaleString('en-US');
}

// A count the server stopped at its cap (review_ui_counts): "1,000+".
function fmtCount(n, capped) {
  return fmtNum(n) + (capped ? '+' : '');
}

function fmtUsd(v) {
  if (v === null || v === undefined) return 'unknown';
  return v < 0.01 ? '$' + v.toFixed(5) : '$' + v.toFixed(4);
}

// Pretty JSON when the text is JSON, else the text itself.
function pretty(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') {
    const t = v.trim();
    if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
      try { return JSON.stringify(JSON.parse(t), null, 2); } catch (e) { /* not JSON */ }
    }
    return v;
  }
  return JSON.stringify(v, null, 2);
}

// Long text folded to a few lines with a "show all" toggle.
function folded(text, opts) {
  const o = opts || {};
  const str = o.json ? pretty(text) : String(text == null ? '' : text);
  const body = o.pre || o.json ? h('pre', { class: 'body' }, str) : h('div', { class: 'body text' }, str);
  const lines = str.split('\n').length;
  if (str.length < 600 && lines <= 8) return h('div', { class: 'fold' }, body);
  const wrap = h('div', { class: 'fold folded' }, body);
  const btn = h('button', { class: 'toggle', type: 'button' }, `Show all (${fmtNum(str.length)} characters)`);
  btn.addEventListener('click', () => {
    const f = wrap.classList.toggle('folded');
    btn.textContent = f ? `Show all (${fmtNum(str.length)} characters)` : 'Fold';
  });
  wrap.appendChild(btn);
  return wrap;
}

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

async function api(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    init.headers['Content-Type'] = 'application/json';
    if (state.me) init.headers['X-CSRF-Token'] = state.me.csrf;
    init.body = JSON.stringify(body || {});
  }
  const res = await fetch(path, init);
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401 && data && data.login_required) {
    state.me = null;
    showLogin();
    throw new ApiError(401, 'log in first', data);
  }
  if (!res.ok) throw new ApiError(res.status, (data && data.error) || res.statusText, data);
  return data;
}

function qs(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  return p.toString();
}

async function learningKeys() {
  if (!state.keys) {
    const r = await api('GET', '/ui/api/learning/keys');
    state.keys = r.keys || [];
  }
  return state.keys;
}

function keyLabel(key) {
  if (!key) return '–';
  const k = (state.keys || []).find((x) => x.learning_key === key);
  if (!k || !k.label) return key.slice(0, 12) + '…';
  return k.label.length > 60 ? k.label.slice(0, 57) + '…' : k.label;
}

// ---------------------------------------------------------------- login and frame

const main = () => document.getElementById('main');

function showLogin(message) {
  clear(document.getElementById('who'));
  const input = h('input', { type: 'password', id: 'token', placeholder: 'Reviewer token', autocomplete: 'current-password' });
  const err = h('div', { class: 'small', style: null });
  const form = h('form', { class: 'panel login', id: 'login' },
    h('h1', null, 'Log in'),
    h('p', { class: 'muted' }, 'Paste the reviewer token your administrator gave you. Your name is recorded with every decision.'),
    input, err,
    h('button', { class: 'btn primary', type: 'submit' }, 'Log in'));
  if (message) err.textContent = message;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      state.me = await api('POST', '/ui/api/login', { token: input.value });
      showWho();
      route();
    } catch (x) {
      err.textContent = x.message;
    }
  });
  append(clear(main()), [form]);
  input.focus();
}

function showWho() {
  const who = clear(document.getElementById('who'));
  if (!state.me) return;
  who.appendChild(h('span', null, 'Reviewing as ', h('b', { id: 'actor' }, state.me.actor)));
  if (state.me.auth === 'token') {
    who.appendChild(h('button', {
      type: 'button',
      onclick: async () => {
        try { await api('POST', '/ui/api/logout', {}); } catch (e) { /* logged out anyway */ }
        state.me = null;
        showLogin();
      },
    }, 'Log out'));
  }
}

function setActiveNav(view) {
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.view === view);
}

// ---------------------------------------------------------------- router

let keyHandler = null;
function setKeys(fn) { keyHandler = fn; }
document.addEventListener('keydown', (e) => {
  if (!keyHandler) return;
  const t = e.target;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  keyHandler(e);
});

async function route() {
  if (!state.me) return;
  setKeys(null);
  const hash = location.hash.replace(/^#/, '') || '/sessions';
  const [path, query] = hash.split('?');
  const parts = path.split('/').filter(Boolean);
  const params = Object.fromEntries(new URLSearchParams(query || ''));
  try {
    if (parts[0] === 'session' && parts[1]) { setActiveNav('sessions'); await viewSession(parts[1]); }
    else if (parts[0] === 'queue') { setActiveNav('queue'); await viewQueue(params); }
    else if (parts[0] === 'learning') { setActiveNav('learning'); await viewLearning(parts[1] ? decodeURIComponent(parts[1]) : null); }
    else if (parts[0] === 'export') { setActiveNav('export'); await viewExport(); }
    else { setActiveNav('sessions'); await viewSessions(params); }
  } catch (e) {
    if (e.status !== 401) append(clear(main()), [h('div', { class: 'panel alert bad' }, 'Could not load this page: ' + e.message)]);
  }
}
window.addEventListener('hashchange', route);

// ---------------------------------------------------------------- sessions list

const REVIEW_TABS = [['', 'All'], ['pending', 'Pending'], ['approved', 'Approved'], ['quarantined', 'Quarantined']];

async function viewSessions(params) {
  state.filters = params;
  await learningKeys().catch(() => []);
  const root = clear(main());
  const f = Object.assign({}, params);

  const tabs = h('div', { class: 'tabs', id: 'tabs' });
  const filterForm = buildFilters(f, (nf) => { location.hash = '#/sessions?' + qs(nf); });
  const bulk = h('div', { class: 'bulkbar', id: 'bulkbar' });
  const tbody = h('tbody', { id: 'rows' });
  const table = h('table', { class: 'list' },
    h('thead', null, h('tr', null, h('th', null, 'ID'), h('th', null, 'Task'), h('th', null, 'Status'),
      h('th', null, 'Review'), h('th', null, 'Reward'), h('th', null, 'Lane'), h('th', null, 'Tokens'), h('th', null, 'Created'))),
    tbody);
  const more = h('div', { class: 'more' });
  append(root, [
    h('div', { class: 'row', style: null }, h('h1', null, 'Sessions'), h('span', { class: 'spacer' }),
      h('a', { class: 'btn', href: '#/queue' }, 'Open review queue')),
    h('div', { class: 'panel', style: null }, filterForm),
    tabs, bulk, h('div', { class: 'listwrap' }, table, more),
  ]);

  let rows = [];
  let cursorIndex = -1;
  // The rows first, then the counts of the tabs in a second request (docs/review-ui.md, "Speed").
  const loadCounts = async () => {
    renderTabs(tabs, f, null);
    renderBulk(bulk, f, null);
    try {
      const c = await api('GET', '/ui/api/sessions/counts?' + qs(f));
      renderTabs(tabs, f, c);
      renderBulk(bulk, f, c);
    } catch (e) {
      toast('Counts: ' + e.message, true);
    }
  };
  const load = async (after) => {
    const page = await api('GET', '/ui/api/sessions?' + qs(Object.assign({}, f, { after, counts: '0', limit: 50 })));
    for (const s of page.sessions) {
      const tr = sessionRow(s);
      rows.push({ s, tr });
      tbody.appendChild(tr);
    }
    if (!rows.length) tbody.appendChild(h('tr', null, h('td', { colspan: 8, class: 'empty' }, 'No session matches these filters.')));
    clear(more);
    if (page.next) more.appendChild(h('button', { class: 'btn', id: 'more', onclick: () => load(page.next) }, 'Load more'));
  };
  await load(null);
  loadCounts();
  const move = (d) => {
    if (!rows.length) return;
    if (cursorIndex >= 0) rows[cursorIndex].tr.classList.remove('cursor');
    cursorIndex = Math.max(0, Math.min(rows.length - 1, cursorIndex + d));
    rows[cursorIndex].tr.classList.add('cursor');
    rows[cursorIndex].tr.scrollIntoView({ block: 'nearest' });
  };
  setKeys((e) => {
    if (e.key === 'j') move(1);
    else if (e.key === 'k') move(-1);
    else if (e.key === 'Enter' && cursorIndex >= 0) location.hash = '#/session/' + rows[cursorIndex].s.session_id;
    else if (e.key === '/') { e.preventDefault(); document.getElementById('f-q').focus(); }
  });
}

function sessionRow(s) {
  const open = () => { location.hash = '#/session/' + s.session_id; };
  return h('tr', { class: 'item', 'data-id': s.session_id, onclick: open },
    h('td', { class: 'id' }, s.session_id),
    h('td', { class: 'task' }, h('div', { class: 't' }, s.task || ''), s.final_answer ? h('div', { class: 'a' }, '→ ' + s.final_answer) : null),
    h('td', null, pill(s.status)),
    h('td', null, pill(s.review_status)),
    h('td', null, fmtReward(s.reward)),
    h('td', null, s.execution_mode ? pill(s.execution_mode, 'lane') : h('span', { class: 'muted' }, '–')),
    h('td', { class: 'num' }, fmtNum(s.total_tokens)),
    h('td', { class: 'when' }, fmtWhen(s.created_at)));
}

// `c` = a review_ui_counts answer, or null while it loads.
function renderTabs(tabs, f, c) {
  clear(tabs);
  const counts = c ? c.counts || {} : {};
  const capped = c ? c.counts_capped || {} : {};
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const totalCapped = Object.values(capped).some(Boolean);
  for (const [value, label] of REVIEW_TABS) {
    const n = !c ? '…' : value ? fmtCount(counts[value] || 0, capped[value]) : fmtCount(total, totalCapped);
    const nf = Object.assign({}, f, { review: value });
    tabs.appendChild(h('a', { href: '#/sessions?' + qs(nf), class: (f.review || '') === value ? 'active' : '', 'data-review': value },
      label, h('span', { class: 'n' }, n)));
  }
}

function renderBulk(bar, f, c) {
  clear(bar);
  const count = c ? c.count : null;
  append(bar, [
    h('span', null, h('b', { id: 'match-count' }, c ? fmtCount(count, c.count_capped) : '…'),
      count === 1 && !c.count_capped ? ' session matches' : ' sessions match'),
    h('span', { class: 'spacer' }),
    h('span', { class: 'muted small' }, 'Apply to every matching session:'),
    h('button', { class: 'btn', id: 'bulk-approve', disabled: !count, onclick: () => bulkDialog(f, 'approved') }, 'Approve all…'),
    h('button', { class: 'btn', id: 'bulk-quarantine', disabled: !count, onclick: () => bulkDialog(f, 'quarantined') }, 'Quarantine all…'),
  ]);
}

function buildFilters(f, apply) {
  const q = h('input', { type: 'search', id: 'f-q', placeholder: 'Search task and answer  ( / )', value: f.q || '' });
  const status = h('select', { id: 'f-status' },
    [['', 'Any status'], ['succeeded', 'Succeeded'], ['failed', 'Failed'], ['running', 'Running'], ['interrupted', 'Interrupted']]
      .map(([v, l]) => h('option', { value: v, selected: (f.status || '') === v }, l)));
  const lane = h('select', { id: 'f-lane' },
    [['', 'Any lane'], ['auto', 'auto'], ['paired', 'paired'], ['coach', 'coach'], ['escalate', 'escalate']]
      .map(([v, l]) => h('option', { value: v, selected: (f.lane || '') === v }, l)));
  const key = h('select', { id: 'f-key' }, h('option', { value: '' }, 'Any learning key'),
    (state.keys || []).map((k) => h('option', { value: k.learning_key, selected: f.key === k.learning_key },
      (k.label || k.learning_key).slice(0, 60) + '  (' + k.sessions + ')')));
  const minR = h('input', { type: 'number', id: 'f-min', step: '0.05', min: '0', max: '1', placeholder: 'min', value: f.min_reward || '' });
  const maxR = h('input', { type: 'number', id: 'f-max', step: '0.05', min: '0', max: '1', placeholder: 'max', value: f.max_reward || '' });
  const since = h('input', { type: 'date', id: 'f-since', value: f.since || '' });
  const until = h('input', { type: 'date', id: 'f-until', value: f.until || '' });
  const sort = h('select', { id: 'f-sort' },
    [['newest', 'Newest first'], ['oldest', 'Oldest first'], ['reward_desc', 'Highest reward'], ['reward_asc', 'Lowest reward']]
      .map(([v, l]) => h('option', { value: v, selected: (f.sort || 'newest') === v }, l)));
  const collect = () => ({
    q: q.value.trim(), status: status.value, lane: lane.value, key: key.value, min_reward: minR.value,
    max_reward: maxR.value, since: since.value, until: until.value, sort: sort.value === 'newest' ? '' : sort.value,
    review: f.review || '',
  });
  const form = h('form', { class: 'filters', id: 'filters' },
    h('label', { class: 'field search' }, 'Search', q),
    h('label', { class: 'field' }, 'Status', status),
    h('label', { class: 'field' }, 'Lane', lane),
    h('label', { class: 'field' }, 'Learning key', key),
    h('label', { class: 'field' }, 'Reward', h('span', { class: 'pair' }, minR, maxR)),
    h('label', { class: 'field' }, 'Created', h('span', { class: 'pair' }, since, until)),
    h('label', { class: 'field' }, 'Sort', sort));
  form.addEventListener('submit', (e) => { e.preventDefault(); apply(collect()); });
  // A form without a submit button does not submit on Enter: the search box applies itself.
  q.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); apply(collect()); } });
  for (const el of [status, lane, key, sort, since, until, minR, maxR]) el.addEventListener('change', () => apply(collect()));
  return form;
}

// Bulk: preview (count + confirmation token) -> dialog with the count and a reason -> apply.
async function bulkDialog(f, status) {
  let preview;
  try {
    preview = await api('POST', '/ui/api/bulk/preview', { status, filters: f });
  } catch (e) { return toast(e.message, true); }
  const verb = status === 'approved' ? 'Approve' : 'Quarantine';
  const reason = h('textarea', { id: 'bulk-reason', rows: 3, placeholder: 'Why (recorded with every session)' });
  const err = h('div', { class: 'small', style: null });
  const confirm = h('button', { class: 'btn ' + (status === 'approved' ? 'ok' : 'bad'), id: 'bulk-confirm', type: 'button' },
    `${verb} ${fmtNum(preview.count)} sessions`);
  const scrim = h('div', { class: 'scrim' });
  const close = () => scrim.remove();
  const dialog = h('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true' },
    h('h2', null, `${verb} ${fmtNum(preview.count)} sessions?`),
    h('p', null, `Every session the current filters select (${fmtNum(preview.count)}) will be set to `, pill(status),
      '. Each change is recorded in the review history with your name and this reason.'),
    reason, err,
    h('div', { class: 'row' }, h('button', { class: 'btn ghost', type: 'button', onclick: close }, 'Cancel'), confirm));
  confirm.addEventListener('click', async () => {
    if (!reason.value.trim()) { err.textContent = 'Say why: a reason is required.'; return; }
    confirm.disabled = true;
    try {
      const r = await api('POST', '/ui/api/bulk/apply', { confirmation: preview.confirmation, reason: reason.value.trim() });
      close();
      toast(`${fmtNum(r.changed)} sessions set ${r.status}` + (r.failed.length ? `, ${r.failed.length} failed` : ''), r.failed.length > 0);
      route();
    } catch (e) { err.textContent = e.message; confirm.disabled = false; }
  });
  scrim.appendChild(dialog);
  document.body.appendChild(scrim);
  reason.focus();
}

// ---------------------------------------------------------------- one session

function eventsOf(session) {
  return (session.trajectory_events || []).map((e) => {
    const ev = e.event || {};
    return { type: ev.type || '', name: ev.name || '', role: ev.role || '', step: ev.step_id, at: ev.timestamp || e.created_at, data: ev.data || {} };
  });
}

function section(title, ...content) {
  return h('section', { class: 'panel' }, h('h2', null, title), ...content);
}

function renderSession(s, container) {
  const meta = s.metadata || {};
  const events = eventsOf(s);
  const reward = s.reward_stats && typeof s.reward_stats.score === 'number' ? s.reward_stats.score
    : s.reward && typeof s.reward.score === 'number' ? s.reward.score : null;
  const routeEv = events.find((e) => e.type === 'route');
  const laneWhy = meta.lane_reason || meta.execution_mode_reason || (routeEv && (routeEv.data.reason || routeEv.data.rationale)) || meta.lane_source || '';
  const usage = meta.token_usage || {};
  const cost = s.ui_cost || {};

  const head = section('Session ' + s.session_id,
    h('div', { class: 'headline' }, pill(s.status), pill(s.review_status), meta.execution_mode ? pill(meta.execution_mode, 'lane') : null, fmtReward(reward)),
    h('div', { class: 'facts' },
      h('div', null, 'Created', h('b', null, fmtWhen(s.created_at))),
      h('div', null, 'Completed', h('b', null, fmtWhen(s.completed_at))),
      h('div', null, 'Tokens', h('b', null, fmtNum(usage.total_tokens))),
      h('div', null, 'Cost', h('b', null, fmtUsd(cost.total_usd))),
      h('div', null, 'Lane', h('b', null, meta.execution_mode || '–'), laneWhy ? h('span', { class: 'small' }, String(laneWhy)) : null),
      h('div', null, 'Learning key', h('b', null, meta.learning_key ? h('a', { href: '#/learning/' + encodeURIComponent(meta.learning_key) }, keyLabel(meta.learning_key)) : '–')),
      h('div', null, 'Agent', h('b', null, meta.agent_name || meta.agent || '–')),
      h('div', null, 'Reward stddev', h('b', null, s.reward_stats && s.reward_stats.score_stddev != null ? Number(s.reward_stats.score_stddev).toFixed(3) : '–'))));
  head.querySelector('h2').setAttribute('id', 'session-title');

  const parts = [head,
    section('Task', h('div', { id: 'task-text' }, folded(s.task))),
    section('Final answer', s.final_answer ? folded(s.final_answer, { json: true }) : h('p', { class: 'muted' }, 'No answer.'))];

  // Drift alerts.
  const drift = events.filter((e) => /drift/i.test(e.type + ' ' + e.name) || e.data.drift_alert);
  if (drift.length || meta.drift_alert || (s.reward_stats && s.reward_stats.drift_alert)) {
    parts.push(h('div', { class: 'panel alert' }, h('b', null, 'Drift alert. '),
      drift.map((d) => h('div', null, pretty(d.data.message || d.data.reason || d.data))),
      meta.drift ? h('pre', null, pretty(meta.drift)) : null));
  }

  // Plan.
  const plan = s.plan && Array.isArray(s.plan.steps) ? s.plan.steps : [];
  if (plan.length) {
    parts.push(section('Plan', h('ol', null, plan.map((p) => h('li', null, p.description || '',
      Array.isArray(p.depends_on) && p.depends_on.length ? h('span', { class: 'muted small' }, '  (after ' + p.depends_on.join(', ') + ')') : null)))));
  }

  // Steps with attempts, guidance and tool calls.
  const steps = s.steps || [];
  if (steps.length) {
    const byStep = (type) => (id) => events.filter((e) => e.type === type && String(e.step) === String(id));
    const toolsOf = byStep('tool_call');
    parts.push(section('Steps', steps.map((st) => {
      const planStep = plan.find((p) => String(p.id) === String(st.step_id)) || {};
      const ev = st.evaluation || {};
      const r = ev.reward || {};
      const content = h('div', { class: 'content' });
      if (st.output) append(content, [h('h3', null, 'Output'), folded(st.output, { json: true })]);
      for (const a of st.attempt_details || []) {
        const e = a.evaluation || {};
        const valid = e.validation && typeof e.validation.valid === 'boolean' ? e.validation.valid : null;
        const verdict = e.status === 'unvalidated' ? 'unvalidated (teacher unavailable)' : valid === null ? (e.status || '–') : valid ? 'valid' : 'invalid';
        content.appendChild(h('div', { class: 'attempt ' + (valid === true ? 'valid' : valid === false ? 'invalid' : '') },
          h('div', null, h('b', null, 'Attempt ' + a.attempt), '  ', h('span', { class: 'muted' }, verdict)),
          e.validation && (e.validation.rationale || e.validation.reason) ? h('div', { class: 'small' }, e.validation.rationale || e.validation.reason) : null,
          e.output ? folded(e.output, { json: true }) : null));
      }
      for (const g of st.guidance || []) content.appendChild(h('div', { class: 'guidance' }, typeof g === 'string' ? g : pretty(g)));
      for (const t of toolsOf(st.step_id)) content.appendChild(toolCall(t));
      if (r.rationale) content.appendChild(h('div', { class: 'small' }, h('b', null, 'Judged: '), r.rationale));
      return h('div', { class: 'step' },
        h('div', { class: 'head' }, h('span', { class: 'n' }, '#' + st.step_id), h('span', { class: 'd' }, planStep.description || st.description || ''),
          h('span', { class: 'muted small' }, (st.attempts || 1) + ' attempt' + ((st.attempts || 1) > 1 ? 's' : '')),
          fmtReward(typeof r.score === 'number' && !(r.raw && r.raw.skipped) ? r.score : null)),
        content);
    })));
  }
  // Tool calls outside steps (captured episodes).
  const looseTools = events.filter((e) => e.type === 'tool_call' && !steps.some((st) => String(st.step_id) === String(e.step)));
  if (looseTools.length) parts.push(section('Tool calls', looseTools.map(toolCall)));

  // Judges.
  const judges = s.reward && Array.isArray(s.reward.judges) ? s.reward.judges : [];
  if (judges.length || (s.reward && s.reward.rationale)) {
    parts.push(section('Judges',
      s.reward && s.reward.rationale ? h('p', null, s.reward.rationale) : null,
      judges.map((j) => h('div', { class: 'judge' },
        h('div', { class: 'row' }, h('b', null, j.identifier || 'judge'), fmtReward(typeof j.score === 'number' ? j.score : null),
          j.escalated ? pill('escalated', 'pending') : null,
          typeof j.uncertainty === 'number' ? h('span', { class: 'muted small' }, 'uncertainty ' + j.uncertainty.toFixed(2)) : null),
        j.rationale ? folded(j.rationale) : null,
        Array.isArray(j.samples) && j.samples.length ? h('details', null, h('summary', { class: 'small' }, j.samples.length + ' samples'),
          h('pre', null, pretty(j.samples))) : null,
        Array.isArray(j.principles) && j.principles.length ? h('details', null, h('summary', { class: 'small' }, 'Principles'), h('pre', null, pretty(j.principles))) : null))));
  }

  // Model calls.
  const calls = events.filter((e) => e.type === 'llm_call');
  if (calls.length) {
    parts.push(section('Model calls (' + calls.length + ')', h('table', { class: 'calls' },
      h('thead', null, h('tr', null, ['Role', 'Model', 'Prompt', 'Completion', 'Latency', 'Cost', 'Outcome'].map((t) => h('th', null, t)))),
      h('tbody', null, calls.map((c) => {
        const d = c.data || {};
        const u = d.usage || {};
        return h('tr', null, h('td', null, d.role || c.role), h('td', { class: 'mono' }, d.model || d.model_ref || ''),
          h('td', null, fmtNum(u.prompt_tokens)), h('td', null, fmtNum(u.completion_tokens)),
          h('td', null, d.latency_ms != null ? Math.round(d.latency_ms) + ' ms' : '–'), h('td', null, fmtUsd(d.cost_usd)),
          h('td', null, d.outcome === 'ok' ? d.outcome : h('span', { class: 'pill failed' }, d.outcome || '–'), d.error ? h('div', { class: 'small' }, d.error) : null));
      })))));
  }

  // Learning of this session.
  if (s.student_learning || s.teacher_learning) {
    parts.push(section('Learning from this session',
      s.student_learning ? [h('h3', null, 'Student'), folded(s.student_learning)] : null,
      s.teacher_learning ? [h('h3', null, 'Teacher'), folded(s.teacher_learning)] : null));
  }

  // Timeline.
  if (events.length) {
    const list = h('div', { class: 'timeline' });
    const t0 = Date.parse(events[0].at);
    for (const e of events) {
      const row = h('div', { class: 'ev' },
        h('span', { class: 't' }, isNaN(t0) ? '' : '+' + ((Date.parse(e.at) - t0) / 1000).toFixed(2) + ' s'),
        h('span', { class: 'ty' }, e.type + (e.name ? '/' + e.name : '')),
        h('span', { class: 'r' }, e.role || ''),
        h('span', { class: 'muted small' }, summarize(e)));
      let open = null;
      row.addEventListener('click', () => {
        if (open) { open.remove(); open = null; return; }
        open = h('pre', null, pretty(e.data));
        row.appendChild(open);
      });
      list.appendChild(row);
    }
    parts.push(section('Timeline (' + events.length + ' events' + (s.trajectory_events_truncated ? ', truncated' : '') + ')', list));
  }

  // Review history.
  const hist = s.review_events || [];
  parts.push(section('Review history', hist.length ? h('div', { class: 'history', id: 'history' }, hist.map((r) => h('div', { class: 'h' },
    h('div', { class: 'row' }, h('b', null, r.actor || '?'), h('span', { class: 'muted small' }, fmtWhen(r.created_at)),
      r.action === 'set_review' ? [pill(r.previous_status), ' → ', pill(r.new_status)] : pill(r.action, 'lane')),
    r.reason ? h('div', { class: 'why' }, 'Why: ' + r.reason) : null,
    r.note ? folded(r.note) : null))) : h('p', { class: 'muted' }, 'No review yet.')));

  append(container, parts);
}

function summarize(e) {
  const d = e.data || {};
  if (e.type === 'llm_call') return [d.model, d.usage ? d.usage.total_tokens + ' tok' : '', d.latency_ms != null ? Math.round(d.latency_ms) + ' ms' : ''].filter(Boolean).join(' · ');
  if (e.type === 'tool_call') return d.name || d.tool || '';
  if (typeof d.message === 'string') return d.message.slice(0, 120);
  return '';
}

function toolCall(e) {
  const d = e.data || {};
  return h('div', { class: 'tool' },
    h('div', { class: 'name' }, '⚙ ' + (d.name || d.tool || e.name || 'tool')),
    h('div', { class: 'kv' },
      h('span', null, 'arguments'), folded(d.arguments !== undefined ? d.arguments : d.args, { json: true }),
      h('span', null, 'result'), folded(d.result !== undefined ? d.result : d.output !== undefined ? d.output : d.error, { json: true })));
}

// The decision panel: approve / quarantine / pending with a reason, a note, a corrected answer.
function decisionPanel(s, onDone) {
  const reason = h('textarea', { id: 'reason', rows: 2, placeholder: 'Reason (required to quarantine)' });
  const err = h('div', { class: 'small', id: 'decide-error' });
  const decide = async (status) => {
    err.textContent = '';
    if (status !== 'approved' && !reason.value.trim()) {
      err.textContent = 'Say why: a reason is required to ' + (status === 'quarantined' ? 'quarantine.' : 'reset to pending.');
      reason.focus();
      return;
    }
    try {
      await api('POST', `/ui/api/sessions/${s.session_id}/review`, { status, reason: reason.value.trim() });
      toast(`Session ${s.session_id} ${status}`);
      onDone(status);
    } catch (e) { err.textContent = e.message; }
  };
  const note = h('textarea', { id: 'note', rows: 2, placeholder: 'Note for the next reviewer' });
  const addNote = async () => {
    if (!note.value.trim()) return;
    try {
      await api('POST', `/ui/api/sessions/${s.session_id}/note`, { note: note.value.trim() });
      toast('Note saved');
      onDone(null);
    } catch (e) { err.textContent = e.message; }
  };
  const demos = (s.review_events || []).filter((r) => r.action === 'demonstration');
  const latest = demos.length ? demos[demos.length - 1].note : '';
  const answer = h('textarea', { id: 'demo-answer', rows: 4, placeholder: 'The answer the model should have given', value: latest || '' });
  const saveDemo = async () => {
    err.textContent = '';
    if (!answer.value.trim()) { err.textContent = 'Write the corrected answer first.'; answer.focus(); return; }
    try {
      await api('POST', `/ui/api/sessions/${s.session_id}/demonstration`, { answer: answer.value, reason: reason.value.trim() });
      toast('Corrected answer stored as a demonstration');
      onDone(null);
    } catch (e) { err.textContent = e.message; }
  };
  const panel = h('div', { class: 'panel decide' },
    h('h2', null, 'Decision'),
    h('div', { class: 'row' }, 'Now ', pill(s.review_status, s.review_status)),
    reason,
    h('div', { class: 'btns' },
      h('button', { class: 'btn ok', id: 'approve', type: 'button', onclick: () => decide('approved') }, 'Approve ', h('kbd', null, 'a')),
      h('button', { class: 'btn bad', id: 'quarantine', type: 'button', onclick: () => decide('quarantined') }, 'Quarantine ', h('kbd', null, 'q'))),
    h('button', { class: 'btn ghost small', type: 'button', onclick: () => decide('pending') }, 'Reset to pending'),
    err,
    h('h3', { style: null }, 'Note'), note,
    h('div', { class: 'row' }, h('button', { class: 'btn', type: 'button', id: 'add-note', onclick: addNote }, 'Add note ', h('kbd', null, 'n'))),
    h('h3', null, 'Corrected answer'),
    h('div', { class: 'hint' }, 'Stored as a demonstration: exported as SFT rows and DPO pairs (the latest one counts).'),
    answer,
    h('div', { class: 'row' }, h('button', { class: 'btn', type: 'button', id: 'save-demo', onclick: saveDemo }, latest ? 'Replace corrected answer' : 'Save corrected answer')),
    h('div', { class: 'hint' }, 'Keys: ', h('kbd', null, 'a'), ' approve · ', h('kbd', null, 'q'), ' quarantine · ', h('kbd', null, 'n'), ' note · ',
      h('kbd', null, 'j'), '/', h('kbd', null, 'k'), ' next/previous · ', h('kbd', null, 'Esc'), ' leave a field'));
  panel.keys = (e) => {
    if (e.key === 'a') { e.preventDefault(); decide('approved'); }
    else if (e.key === 'q') { e.preventDefault(); if (reason.value.trim()) decide('quarantined'); else { reason.focus(); err.textContent = 'Type the reason, then press the Quarantine button.'; } }
    else if (e.key === 'n') { e.preventDefault(); note.focus(); }
  };
  return panel;
}

async function viewSession(id) {
  await learningKeys().catch(() => []);
  const s = await api('GET', '/ui/api/sessions/' + encodeURIComponent(id));
  const root = clear(main());
  const body = h('div');
  renderSession(s, body);
  const panel = decisionPanel(s, () => viewSession(id));
  const back = h('a', { href: '#/sessions?' + qs(state.filters || {}) }, '← Sessions');
  append(root, [h('div', { class: 'row', style: null }, back), h('div', { class: 'detail' }, body, h('div', { class: 'side' }, panel))]);
  setKeys((e) => panel.keys(e));
}

// ---------------------------------------------------------------- review queue

async function viewQueue(params) {
  await learningKeys().catch(() => []);
  const f = Object.assign({}, params, { review: 'pending', sort: params.sort || 'oldest' });
  const page = await api('GET', '/ui/api/sessions?' + qs(Object.assign({}, f, { limit: 200, counts: '1' })));
  const ids = page.sessions.map((x) => x.session_id);
  let i = 0;
  const root = clear(main());
  const bar = h('div', { class: 'queuebar' });
  const body = h('div');
  append(root, [bar, body]);
  const show = async () => {
    clear(bar); clear(body);
    if (!ids.length) {
      append(bar, [h('h1', null, 'Review queue')]);
      append(body, [h('div', { class: 'panel empty', id: 'queue-empty' }, 'Nothing pending. Every session matching the filters has a decision.')]);
      setKeys(null);
      return;
    }
    append(bar, [h('h1', null, 'Review queue'), h('span', { class: 'muted', id: 'queue-pos' }, `${i + 1} of ${ids.length}` + (page.count > ids.length || page.count_capped ? ` (of ${fmtCount(page.count, page.count_capped)} pending)` : ' pending')),
      h('span', { class: 'spacer' }),
      h('button', { class: 'btn', type: 'button', onclick: () => go(-1), disabled: i === 0 }, '← Previous ', h('kbd', null, 'k')),
      h('button', { class: 'btn', type: 'button', onclick: () => go(1), disabled: i >= ids.length - 1 }, 'Next ', h('kbd', null, 'j'))]);
    const s = await api('GET', '/ui/api/sessions/' + ids[i]);
    const content = h('div');
    renderSession(s, content);
    const panel = decisionPanel(s, (status) => {
      if (status === 'approved' || status === 'quarantined') { ids.splice(i, 1); if (i >= ids.length) i = Math.max(0, ids.length - 1); }
      show();
    });
    append(body, [h('div', { class: 'detail' }, content, h('div', { class: 'side' }, panel))]);
    setKeys((e) => {
      if (e.key === 'j') go(1);
      else if (e.key === 'k') go(-1);
      else panel.keys(e);
    });
    window.scrollTo(0, 0);
  };
  const go = (d) => {
    const n = Math.max(0, Math.min(ids.length - 1, i + d));
    if (n !== i) { i = n; show(); }
  };
  await show();
}

// ---------------------------------------------------------------- learning

async function viewLearning(key) {
  const keys = await learningKeys();
  const root = clear(main());
  if (!key) {
    append(root, [h('h1', null, 'Learning'), h('p', { class: 'muted' }, 'Every learning key: the sessions filed under it, their average reward, and the playbook it learned.'),
      h('div', { class: 'panel keys-list', style: null },
        h('div', { class: 'k muted small' }, h('span', null, 'Task (newest session) / key'), h('span', null, 'Sessions'), h('span', null, 'Avg reward'), h('span', null, 'Last')),
        keys.length ? keys.map((k) => h('div', { class: 'k', onclick: () => { location.hash = '#/learning/' + encodeURIComponent(k.learning_key); } },
          h('div', null, h('div', { class: 'label' }, k.label || '(no task)'), h('div', { class: 'key' }, k.learning_key)),
          h('span', null, fmtNum(k.sessions)), fmtReward(k.average_reward), h('span', { class: 'muted small' }, fmtWhen(k.last_at))))
          : h('div', { class: 'empty' }, 'No session has a learning key yet.'))]);
    return;
  }
  const d = await api('GET', '/ui/api/learning?' + qs({ key }));
  const sessions = d.sessions || [];
  // Every stored playbook version (learning_versions, as `atlas-host playbook history` lists them).
  const versions = (d.versions || []).map((v) => ({
    version: v.version, text: v.student_learning || '', session: v.session_id, at: v.created_at,
    actor: v.actor, action: v.action, note: v.note,
  }));
  const rejected = d.rejected || [];
  append(root, [
    h('div', { class: 'row' }, h('a', { href: '#/learning' }, '← Learning')),
    h('h1', null, keyLabel(key)), h('div', { class: 'muted mono small' }, key),
    section('Reward and tokens over time (' + sessions.length + ' sessions)', chart(sessions),
      h('div', { class: 'legend' }, h('span', null, h('i', { class: 'lg-reward' }), 'reward (0–1)'), h('span', null, h('i', { class: 'lg-tokens' }), 'tokens per session'))),
    section('Playbook' + (d.registry ? ' — version ' + d.registry.version + ', updated ' + fmtWhen(d.registry.updated_at) : ''),
      d.registry ? folded(d.registry.student_learning || '(empty)') : h('p', { class: 'muted' }, 'No playbook stored for this key yet.'),
      d.registry && d.registry.teacher_learning ? [h('h3', null, 'Teacher playbook'), folded(d.registry.teacher_learning)] : null),
    section('Versions and changes', versionsView(versions)),
    section('Candidates the gates rejected (' + rejected.length + ')', rejectedView(rejected)),
  ]);
  for (const el of root.querySelectorAll('.lg-reward')) el.style.background = 'var(--ok)';
  for (const el of root.querySelectorAll('.lg-tokens')) el.style.background = 'var(--accent)';
}

function chart(points) {
  const W = 900, H = 240, L = 44, R = 60, T = 12, B = 28;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'reward and tokens over time' });
  if (!points.length) { svg.appendChild(s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'No sessions')); return svg; }
  const n = points.length;
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (n - 1));
  const y = (r) => T + (1 - r) * (H - T - B);
  const maxTok = Math.max(1, ...points.map((p) => p.total_tokens || 0));
  const yt = (t) => T + (1 - t / maxTok) * (H - T - B);
  const grid = s('g', { class: 'grid' });
  for (const r of [0, 0.25, 0.5, 0.75, 1]) {
    grid.appendChild(s('line', { x1: L, x2: W - R, y1: y(r), y2: y(r) }));
    grid.appendChild(s('text', { x: L - 8, y: y(r) + 4, 'text-anchor': 'end' }, r.toFixed(2)));
    grid.appendChild(s('text', { x: W - R + 8, y: y(r) + 4 }, fmtNum(Math.round(maxTok * r))));
  }
  svg.appendChild(grid);
  const path = (pts) => pts.map((p, i) => (i ? 'L' : 'M') + p[0].toFixed(1) + ' ' + p[1].toFixed(1)).join(' ');
  const tok = points.map((p, i) => [x(i), yt(p.total_tokens || 0)]);
  svg.appendChild(s('path', { class: 'tokens', d: path(tok) }));
  const rw = [];
  points.forEach((p, i) => { if (typeof p.reward === 'number') rw.push([x(i), y(p.reward), p]); });
  if (rw.length) svg.appendChild(s('path', { class: 'reward', d: path(rw) }));
  for (const [px, py, p] of rw) {
    const c = s('circle', { class: 'pt', cx: px, cy: py, r: 3.5 }, s('title', {}, `session ${p.session_id}: reward ${p.reward.toFixed(2)}, ${fmtNum(p.total_tokens)} tokens, ${fmtWhen(p.created_at)}`));
    c.addEventListener('click', () => { location.hash = '#/session/' + p.session_id; });
    svg.appendChild(c);
  }
  svg.appendChild(s('text', { x: L, y: H - 8 }, fmtWhen(points[0].created_at)));
  svg.appendChild(s('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, fmtWhen(points[n - 1].created_at)));
  return svg;
}

// Line diff (longest common subsequence) between two playbook versions.
function diffLines(a, b) {
  const x = a.split('\n'), y = b.split('\n');
  const m = x.length, n = y.length;
  if (m * n > 4e6) return [{ t: 'del', s: a }, { t: 'add', s: b }];
  const dp = Array.from({ length: m + 1 }, () => new Uint32Array(n + 1));
  for (let i = m - 1; i >= 0; i--) for (let j = n - 1; j >= 0; j--) dp[i][j] = x[i] === y[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < m && j < n) {
    if (x[i] === y[j]) { out.push({ t: 'same', s: x[i] }); i++; j++; }
    else if (dp[i + 1][j] >= dp[i][j + 1]) out.push({ t: 'del', s: x[i++] });
    else out.push({ t: 'add', s: y[j++] });
  }
  while (i < m) out.push({ t: 'del', s: x[i++] });
  while (j < n) out.push({ t: 'add', s: y[j++] });
  return out;
}

// The candidates the learning gates refused, as `atlas-host playbook rejected` lists them.
function rejectedView(rejected) {
  if (!rejected.length) return h('p', { class: 'muted', id: 'rejected-none' }, 'The learning gates refused no candidate for this key.');
  return h('div', { class: 'rejected', id: 'rejected' }, rejected.map((r) => h('div', { class: 'cand' },
    h('div', { class: 'head' }, h('b', { class: 'mono' }, r.entry_id || '(no id)'),
      h('span', { class: 'muted small' }, ' refused in version ' + r.version + (r.session_id ? ' · session ' : ''),
        r.session_id ? h('a', { href: '#/session/' + encodeURIComponent(r.session_id) }, r.session_id) : null,
        ' · ' + fmtWhen(r.evaluated_at))),
    h('ul', { class: 'reasons' }, (r.reasons || []).length ? r.reasons.map((x) => h('li', null, x)) : h('li', { class: 'muted' }, 'no reason recorded')),
    r.entry ? folded(pretty(r.entry)) : null)));
}

function versionsView(versions) {
  if (!versions.length) return h('p', { class: 'muted' }, 'No playbook versions yet.');
  const list = h('div');
  const view = h('div');
  const select = (k) => {
    for (const [idx, el] of [...list.children].entries()) el.classList.toggle('active', idx === k);
    clear(view);
    // The first version has nothing before it: all of its lines are new (no empty removed line).
    const prev = k > 0 ? versions[k - 1].text : null;
    view.appendChild(h('div', { class: 'muted small' }, k > 0 ? `Changes from version ${versions[k - 1].version} to ${versions[k].version}` : `Version ${versions[k].version}: the first stored`));
    view.appendChild(h('div', { class: 'diff' }, (prev === null ? versions[k].text.split('\n').map((x) => ({ t: 'add', s: x })) : diffLines(prev, versions[k].text)).map((d) => h('div', { class: d.t }, (d.t === 'add' ? '+ ' : d.t === 'del' ? '− ' : '  ') + d.s))));
  };
  versions.forEach((v, k) => list.appendChild(h('div', { class: 'v', 'data-version': v.version, onclick: () => select(k) },
    `Version ${v.version}`, h('div', { class: 'muted small' }, (v.action || '') + ' by ' + (v.actor || '?') + (v.session ? ' · session ' + v.session : '') + ' · ' + fmtWhen(v.at)),
    v.note ? h('div', { class: 'muted small note' }, v.note) : null)));
  select(versions.length - 1);
  return h('div', { class: 'versions' }, list, view);
}

// ---------------------------------------------------------------- export

async function viewExport() {
  await learningKeys().catch(() => []);
  const root = clear(main());
  const format = h('select', { id: 'x-format' }, ['atlas-jsonl', 'trl-sft', 'trl-grpo', 'trl-dpo', 'openai-ft'].map((v) => h('option', { value: v }, v)));
  const reviewBoxes = ['approved', 'pending', 'quarantined'].map((v) => h('input', { type: 'checkbox', value: v, checked: v === 'approved', class: 'x-review' }));
  const failed = h('input', { type: 'checkbox', id: 'x-failed' });
  const minR = h('input', { type: 'number', id: 'x-min', step: '0.05', min: '0', max: '1', placeholder: 'any' });
  const key = h('select', { id: 'x-key' }, h('option', { value: '' }, 'Any learning key'), (state.keys || []).map((k) => h('option', { value: k.learning_key }, (k.label || k.learning_key).slice(0, 60))));
  const since = h('input', { type: 'date', id: 'x-since' });
  const limit = h('input', { type: 'number', id: 'x-limit', min: '1', placeholder: 'all' });
  const strip = h('input', { type: 'checkbox', id: 'x-strip' });
  const countOut = h('div', { class: 'muted', id: 'x-count' });
  const result = h('div', { class: 'result', id: 'x-result' });
  const body = () => ({
    format: format.value,
    review: reviewBoxes.filter((b) => b.checked).map((b) => b.value).join(',') || 'approved',
    status: failed.checked ? 'succeeded,failed' : '',
    min_reward: minR.value, key: key.value, since: since.value, limit: limit.value, strip_playbook: strip.checked,
  });
  const count = async () => {
    try {
      const r = await api('POST', '/ui/api/export/count', body());
      countOut.textContent = `${fmtNum(r.count)} session${r.count === 1 ? '' : 's'} will be exported.`;
    } catch (e) { countOut.textContent = e.message; }
  };
  const run = async () => {
    clear(result);
    result.appendChild(h('p', { class: 'muted' }, 'Exporting…'));
    try {
      const r = await api('POST', '/ui/api/export', body());
      clear(result);
      if (!r.sessions) { result.appendChild(h('p', null, 'No session matches: nothing to download.')); return; }
      append(result, [h('div', { class: 'facts' },
        h('div', null, 'Sessions', h('b', { id: 'x-sessions' }, fmtNum(r.sessions))),
        h('div', null, 'Records', h('b', null, fmtNum(r.records))),
        h('div', null, 'Size', h('b', null, fmtNum(r.bytes) + ' bytes')),
        h('div', null, 'Cost of the data', h('b', null, fmtUsd(r.cost_usd)))),
      h('p', null, 'SHA-256 ', h('span', { class: 'hash', id: 'x-sha' }, r.sha256)),
      h('a', { class: 'btn primary', id: 'x-download', href: r.download, download: r.filename }, 'Download ' + r.filename)]);
    } catch (e) { clear(result); result.appendChild(h('div', { class: 'alert bad' }, e.message)); }
  };
  for (const el of [format, failed, minR, key, since, limit, ...reviewBoxes]) el.addEventListener('change', count);
  append(root, [h('h1', null, 'Export'), h('p', { class: 'muted' }, 'The same export as `atlas-host export`: running and interrupted sessions are never exported; the review filter is the gate.'),
    h('div', { class: 'panel' },
      h('div', { class: 'exportform' },
        h('label', { class: 'field' }, 'Format', format),
        h('div', { class: 'field' }, h('span', { class: 'muted small' }, 'Review status'), h('div', { class: 'checks' }, reviewBoxes.map((b) => h('label', null, b, ' ' + b.value)))),
        h('div', { class: 'field' }, h('span', { class: 'muted small' }, 'Sessions'), h('div', { class: 'checks' }, h('label', null, failed, ' include failed'), h('label', null, strip, ' strip playbook'))),
        h('label', { class: 'field' }, 'Minimum reward', minR),
        h('label', { class: 'field' }, 'Learning key', key),
        h('label', { class: 'field' }, 'Created after', since),
        h('label', { class: 'field' }, 'At most', limit)),
      h('div', { class: 'row', style: null }, countOut, h('span', { class: 'spacer' }), h('button', { class: 'btn primary', id: 'x-run', type: 'button', onclick: run }, 'Export')),
      result)]);
  count();
}

// ---------------------------------------------------------------- start

async function start() {
  try {
    const res = await fetch('/ui/api/me', { credentials: 'same-origin' });
    const data = await res.json();
    if (res.status === 401) { showLogin(); return; }
    if (!res.ok) throw new Error(data.error || res.statusText);
    state.me = data;
    showWho();
    route();
  } catch (e) {
    append(clear(main()), [h('div', { class: 'panel alert bad' }, 'The review UI could not start: ' + e.message)]);
  }
}
start();
