/*
 * The ldirectord status page's script: polls status.json (the answer `ldirectord show
 * --json` prints) every second and renders it. Everything the daemon or a real server says
 * is put on the page with textContent, never as HTML, so a reason of `<script>` is text.
 * Rows are kept per real and only changed cells are touched, so 1,000 reals stay cheap.
 */
'use strict';
(function () {
  const POLL_MS = 1000;
  const FETCH_TIMEOUT_MS = 5000;
  /** A virtual with more reals than this starts collapsed while all of them are up. */
  const COLLAPSE_OVER = 50;
  const RECENT_MS = 10 * 60 * 1000;
  const STATES = ['up', 'down', 'quiesced', 'draining', 'slow-starting', 'maintenance', 'unknown'];
  const COLORS = { u: '#2e7d32', d: '#c62828', m: '#546e7a' };
  /** The strip's width in CSS pixels (status.css), and the widest a cell gets. */
  const STRIP_WIDTH = 150;
  const STRIP_CELL_MAX = 6;
  const COLUMNS = [
    ['state', 'State'],
    ['real', 'Real'],
    ['weight', 'Weight'],
    ['checked', 'Checked'],
    ['latency', 'Latency'],
    ['since', 'Since'],
    ['strip', 'Last 10 min'],
    ['reason', 'Last check'],
  ];

  const byId = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  /** 42s, 5m 3s, 2h 5m, 3d 4h. */
  function age(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h';
  }
  const ago = (iso, now) => (iso ? age(now - Date.parse(iso)) + ' ago' : 'never');

  /** The state as an operator reads it: the kernel's side included (quiesced: in, weight 0). */
  function shownState(r) {
    if (r.drain) return 'draining';
    if (r.inMaintenance) return 'maintenance';
    if (r.state === 'up' && r.slowStartUntil) return 'slow-starting';
    if (r.state === 'pending') return 'unknown';
    if (r.state === 'down' && r.quiesced) return 'quiesced';
    return STATES.indexOf(r.state) >= 0 ? r.state : 'unknown';
  }
  /** Changes of result in the strip: two or more in ten minutes is a flapping real. */
  function flips(recent) {
    let n = 0;
    for (let i = 1; i < recent.length; i++) if (recent[i] !== recent[i - 1]) n++;
    return n;
  }

  const filter = { query: '', states: new Set(STATES) };
  /** Per virtual id: its section and rows; and whether the operator collapsed it. */
  const sections = new Map();
  const userCollapsed = new Map();
  let latest = null;

  function buildFilters() {
    const box = byId('states');
    for (const s of STATES) {
      const label = el('label');
      const cb = el('input');
      cb.type = 'checkbox';
      cb.checked = true;
      cb.dataset.state = s;
      cb.addEventListener('change', () => {
        if (cb.checked) filter.states.add(s);
        else filter.states.delete(s);
        render();
      });
      label.append(cb, ' ', el('span', 'state ' + s, s));
      box.append(label);
    }
    byId('query').addEventListener('input', (e) => {
      filter.query = e.target.value.trim().toLowerCase();
      render();
    });
    byId('expand').addEventListener('click', () => setAll(false));
    byId('collapse').addEventListener('click', () => setAll(true));
  }
  function setAll(collapsed) {
    for (const id of sections.keys()) userCollapsed.set(id, collapsed);
    render();
  }

  function renderTop(st, now) {
    setText(byId('config'), st.config);
    const meta =
      'pid ' +
      st.pid +
      ' · v' +
      st.version +
      ' · up ' +
      age(now - Date.parse(st.started)) +
      ' · ' +
      st.checks.probes +
      ' checks, ' +
      st.checks.inFlight +
      ' in flight' +
      (st.dryRun ? ' · DRY-RUN' : '');
    setText(byId('meta'), meta);
    const reload = byId('reload');
    const r = st.reloads;
    if (r.lastReloadError) {
      reload.className = 'line';
      reload.replaceChildren(
        el('span', 'bad', 'reload failed ' + ago(r.lastReloadFailedAt, now) + ': ' + r.lastReloadError),
        el('span', 'ok', 'running the configuration loaded ' + ago(r.lastReloadOkAt, now)),
      );
    } else {
      reload.className = 'line ok';
      reload.replaceChildren(
        el('span', 'ok', 'configuration loaded ' + ago(r.lastReloadOkAt, now) + ' (' + r.lastReloadOkAt + ')'),
        el('span', 'ok', r.reloads + ' reloads, ' + r.reloadFailures + ' failed'),
      );
    }
    const ipv = byId('ipvsadm');
    ipv.hidden = !st.reconcile.lastError;
    setText(ipv, st.reconcile.lastError ? 'last ipvsadm error: ' + st.reconcile.lastError : '');
    const sync = byId('sync');
    const sd = st.syncDaemon;
    sync.hidden = !sd;
    if (sd) {
      const threads = sd.threads.map(function (t) {
        return t.state + ' on ' + t.interface + ' syncid ' + t.syncid + (t.running ? ' running' : ' NOT running');
      });
      sync.className = 'line ' + (sd.error ? 'bad' : 'ok');
      setText(sync, 'connection sync: ' + threads.join(', ') + (sd.error ? ' · ' + sd.error : ''));
    }
    const counts = { up: 0, down: 0, quiesced: 0, draining: 0, 'slow-starting': 0, maintenance: 0, unknown: 0 };
    let reals = 0;
    let changed = 0;
    for (const v of st.virtuals) {
      for (const r of v.reals) {
        reals++;
        counts[shownState(r)]++;
        if (now - Date.parse(r.since) < RECENT_MS) changed++;
      }
    }
    const chips = [chip(st.virtuals.length, 'virtuals'), chip(reals, 'reals')];
    for (const s of STATES) if (counts[s] || s === 'up' || s === 'down') chips.push(chip(counts[s], s, s));
    chips.push(chip(changed, 'changed in the last 10 min'));
    byId('counts').replaceChildren(...chips);
  }
  function chip(n, what, state) {
    const c = el('span', 'chip');
    c.append(el('b', state ? 'state ' + state : '', String(n)), ' ' + what);
    return c;
  }

  function sectionFor(v) {
    let s = sections.get(v.id);
    if (s) return s;
    const root = el('section', 'virtual');
    root.dataset.virtual = v.id;
    const head = el('div', 'vhead');
    const parts = {
      toggle: el('span', 'toggle'),
      name: el('span', 'name'),
      health: el('span', 'health'),
      sched: el('span', 'dim'),
      weight: el('span', 'dim'),
      fallback: el('span', 'dim'),
      kernel: el('span', 'warn'),
    };
    head.append(parts.toggle, parts.name, parts.health, parts.sched, parts.weight, parts.fallback, parts.kernel);
    head.addEventListener('click', () => {
      userCollapsed.set(v.id, !root.classList.contains('collapsed'));
      render();
    });
    const table = el('table');
    const hr = el('tr');
    for (const [key, title] of COLUMNS) hr.append(el('th', 'col-' + key, title));
    const thead = el('thead');
    thead.append(hr);
    const tbody = el('tbody');
    table.append(thead, tbody);
    root.append(head, table);
    s = { root, parts, tbody, rows: new Map() };
    sections.set(v.id, s);
    return s;
  }

  function renderVirtual(v, now) {
    const s = sectionFor(v);
    const p = s.parts;
    const allUp = v.healthy === v.total;
    const collapsed = userCollapsed.has(v.id) ? userCollapsed.get(v.id) : v.total > COLLAPSE_OVER && allUp;
    s.root.classList.toggle('collapsed', collapsed);
    setText(p.toggle, collapsed ? '▸' : '▾');
    setText(p.name, v.service + ' ' + v.protocol);
    const bar = el('span', 'bar');
    const fill = el('i');
    fill.style.width = (v.total ? Math.round((100 * v.healthy) / v.total) : 0) + '%';
    bar.append(fill);
    p.health.replaceChildren(bar, el(allUp ? 'span' : 'b', allUp ? '' : 'warn', v.healthy + '/' + v.total + ' up'));
    setText(p.sched, 'scheduler ' + v.scheduler + ' · quiescent ' + (v.quiescent ? 'yes' : 'no'));
    let configured = 0;
    let effective = 0;
    for (const r of v.reals) {
      configured += r.weight;
      effective += r.kernelWeight || 0;
    }
    setText(p.weight, 'weight ' + effective + ' in kernel / ' + configured + ' configured');
    setText(
      p.fallback,
      v.fallback ? 'fallback ' + v.fallback.server + (v.fallback.inKernel ? ': IN (serving)' : ': out') : 'no fallback',
    );
    p.fallback.className = v.fallback && v.fallback.inKernel ? 'warn' : 'dim';
    const alarms = [];
    if (!v.inKernel) alarms.push('NOT in the kernel');
    if (v.panic) alarms.push('PANIC: every real kept in service');
    if (v.quorum && !v.quorum.reached) alarms.push('quorum LOST (' + v.quorum.weightUp + ' < ' + v.quorum.quorum + ')');
    setText(p.kernel, alarms.join(' · '));

    let visible = 0;
    const vMatch = !filter.query || (v.id + ' ' + v.service).toLowerCase().indexOf(filter.query) >= 0;
    const seen = new Set();
    for (const r of v.reals) {
      seen.add(r.real);
      const state = shownState(r);
      const show = filter.states.has(state) && (vMatch || r.real.toLowerCase().indexOf(filter.query) >= 0);
      if (show) visible++;
      // A collapsed virtual's rows are built only when it is opened.
      if (collapsed && !s.rows.has(r.real)) continue;
      renderReal(s, r, state, show, now);
    }
    for (const [key, row] of s.rows) {
      if (!seen.has(key)) {
        row.tr.remove();
        s.rows.delete(key);
      }
    }
    s.root.classList.toggle('hidden', visible === 0 && !(vMatch && filter.query));
  }

  function renderReal(s, r, state, show, now) {
    let row = s.rows.get(r.real);
    if (!row) {
      const tr = el('tr');
      tr.dataset.real = r.real;
      const cells = {};
      for (const [key] of COLUMNS) {
        cells[key] = el('td', 'col-' + key);
        tr.append(cells[key]);
      }
      cells.real.classList.add('real');
      cells.weight.classList.add('num');
      cells.latency.classList.add('num');
      cells.reason.classList.add('reason');
      const badge = el('span', 'state');
      const flap = el('span', 'flap');
      cells.state.append(badge, flap);
      const strip = el('span', 'strip');
      cells.strip.append(strip);
      s.tbody.append(tr);
      row = { tr, cells, badge, flap, strip, recent: null };
      s.rows.set(r.real, row);
    }
    row.tr.classList.toggle('hidden', !show);
    row.tr.dataset.state = state;
    if (!show) return;
    const c = row.cells;
    row.badge.className = 'state ' + state;
    setText(row.badge, state);
    const recent = r.recent || '';
    setText(row.flap, flips(recent) >= 2 ? 'flapping' : '');
    setText(c.real, r.real);
    setText(c.weight, (r.kernelWeight === null ? '–' : String(r.kernelWeight)) + ' / ' + r.weight);
    c.weight.title = 'kernel weight / configured weight';
    setText(c.checked, ago(r.lastCheck, now));
    setText(c.latency, r.lastMs === null ? '–' : r.lastMs + ' ms');
    setText(c.since, age(now - Date.parse(r.since)));
    row.tr.classList.toggle('changed', now - Date.parse(r.since) < RECENT_MS);
    let note = '';
    if (r.drain)
      note = r.drain.phase === 'drained' ? 'drained by the operator · ' : 'draining until ' + r.drain.deadline + ' · ';
    else if (r.slowStartUntil) note = 'slow start until ' + r.slowStartUntil + ' · ';
    setText(c.reason, note + (r.lastReason || ''));
    if (row.recent !== recent) {
      row.recent = recent;
      drawStrip(row.strip, recent);
      row.strip.title = r.recent === null ? 'not kept' : recent.length + ' checks, ' + flips(recent) + ' changes';
    }
  }

  /**
   * One cell per check, newest at the right; cells narrow as checks get more frequent.
   * Drawn as a CSS gradient with one stop pair per run of equal results (a canvas per
   * real costs a drawing context each: seconds at 1,000 reals), with thin gaps between
   * cells while they are wide enough to show them.
   */
  function drawStrip(strip, recent) {
    const n = recent.length;
    if (!n) {
      strip.style.backgroundImage = '';
      return;
    }
    const w = Math.min(STRIP_CELL_MAX, STRIP_WIDTH / n);
    let x = STRIP_WIDTH - n * w;
    const stops = ['transparent 0 ' + x + 'px'];
    for (let i = 0; i < n;) {
      let j = i;
      while (j < n && recent[j] === recent[i]) j++;
      const end = x + (j - i) * w;
      stops.push((COLORS[recent[i]] || '#8d8d8d') + ' ' + x + 'px ' + end + 'px');
      x = end;
      i = j;
    }
    const runs = 'linear-gradient(to right, ' + stops.join(', ') + ')';
    if (w < 4) {
      strip.style.backgroundImage = runs;
      strip.style.backgroundSize = '';
      return;
    }
    // The gaps cover only the cells (the right n * w pixels), not the empty start.
    const gaps =
      'repeating-linear-gradient(to left, transparent 0 ' + (w - 1) + 'px, #fff ' + (w - 1) + 'px ' + w + 'px)';
    strip.style.backgroundImage = gaps + ', ' + runs;
    strip.style.backgroundSize = n * w + 'px 100%, 100% 100%';
  }

  function render() {
    const st = latest;
    if (!st) return;
    const now = Date.parse(st.now);
    renderTop(st, now);
    const main = byId('virtuals');
    const ids = new Set();
    for (const v of st.virtuals) {
      ids.add(v.id);
      renderVirtual(v, now);
      const root = sections.get(v.id).root;
      if (root.parentNode !== main) main.append(root);
    }
    for (const [id, s] of sections) {
      if (!ids.has(id)) {
        s.root.remove();
        sections.delete(id);
      }
    }
  }

  let lastOk = 0;
  async function poll() {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    const conn = byId('conn');
    try {
      const res = await fetch('status.json', { cache: 'no-store', signal: ctl.signal });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      latest = await res.json();
      lastOk = Date.now();
      render();
      conn.className = 'conn';
      setText(conn, 'live · ' + new Date(lastOk).toLocaleTimeString());
    } catch (e) {
      conn.className = 'conn stale';
      const since = lastOk ? 'since ' + new Date(lastOk).toLocaleTimeString() : 'yet';
      setText(conn, 'no answer from the daemon ' + since + ' (' + (e && e.message ? e.message : e) + ')');
    } finally {
      clearTimeout(timer);
      setTimeout(poll, POLL_MS);
    }
  }

  buildFilters();
  poll();
})();
