/* iotconform report behaviour: filters, per-case detail panel, lazy case list.
   Case data lives in the JSON blob and is parsed only on first use; the matrix
   squares are plain server-rendered elements so the page shows at once. */
(function () {
  'use strict';
  var SYM = { passed: '\u2713', failed: '\u2717', skipped: '\u2013', error: '!' };
  var PAGE = 200;
  var data = null, byId = null, listShown = 0, listRows = [];
  var cells = Array.prototype.slice.call(document.querySelectorAll('.case-cell'));
  var rows = Array.prototype.slice.call(document.querySelectorAll('tr[data-row]'));
  var aggs = Array.prototype.slice.call(document.querySelectorAll('td.agg:not(.empty)'));
  var selected = null, cellById = null;
  var $ = function (id) { return document.getElementById(id); };

  function load() {
    if (!data) {
      data = JSON.parse($('results-data').textContent);
      byId = new Map();
      (data.cases || []).forEach(function (c) { byId.set(c.id, c); });
    }
    return data;
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function json(v) {
    if (v === undefined) return '(none)';
    return typeof v === 'string' ? v : JSON.stringify(v, null, 2);
  }

  function section(parent, title) {
    parent.appendChild(el('h4', null, title));
  }

  function kvTable(pairs) {
    var t = el('table');
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null || p[1] === '') return;
      var tr = el('tr');
      tr.appendChild(el('th', null, p[0]));
      tr.appendChild(el('td', null, p[1]));
      t.appendChild(tr);
    });
    return t;
  }

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var NOISE = { t: 1, t_ms: 1, wall: 1, event: 1, conn: 1, port: 1, peer: 1, peer_port: 1, family: 1 };

  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  /* Short event names: packets by type, with the direction seen from the endpoint. */
  function evLabel(e) {
    var ev = e.event || '?';
    switch (ev) {
      case 'mqtt.in': return '\u2192' + (e.type || 'MQTT');
      case 'mqtt.out': return '\u2190' + (e.type || 'MQTT');
      case 'http.request': return '\u2192' + (e.method || 'HTTP');
      case 'http.response': return '\u2190' + (e.status || 'HTTP');
      case 'tls.client_hello': return 'ClientHello';
      case 'tls.handshake': return e.version ? e.version.replace('TLSv', 'TLS ') : 'handshake';
      case 'tls.refused': return 'refused' + (e.alert ? ' (' + e.alert + ')' : '');
      case 'conn.accept': return 'accept';
      case 'conn.close': return 'close';
      case 'auth': return 'auth ' + (e.result || '');
      default: return ev;
    }
  }

  function evKind(e) {
    var ev = e.event || '';
    if (/refused|error|fault/.test(ev) || (ev === 'auth' && e.result && e.result !== 'allow') ||
        (ev === 'http.response' && e.status >= 400)) return 'bad';
    if (ev.indexOf('tls.') === 0 || ev === 'auth') return 'tls';
    if (ev.indexOf('mqtt.') === 0 || ev.indexOf('http.') === 0) return ev.slice(-3) === '.in' ||
      ev === 'http.request' ? 'in' : 'out';
    return 'conn';
  }

  function niceStep(span) {
    var raw = span / 5, p = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  /* The journal excerpt on a time axis, one track per connection, so the order
     and the gaps (a withheld CONNACK, a slow close) read at a glance. */
  function timeline(entries) {
    var evs = entries.filter(function (e) { return typeof e.t_ms === 'number'; });
    if (!evs.length) return null;
    var t0 = Infinity, t1 = -Infinity, tracks = [], byConn = {};
    evs.forEach(function (e) {
      t0 = Math.min(t0, e.t_ms); t1 = Math.max(t1, e.t_ms);
      var k = e.conn === undefined ? '-' : String(e.conn);
      if (!byConn[k]) {
        byConn[k] = { key: k, evs: [], name: k === '-' ? 'endpoint' : '#' + k };
        tracks.push(byConn[k]);
      }
      var tr = byConn[k];
      if (e.client_id && !tr.client) {
        tr.client = true;
        tr.name += ' ' + String(e.client_id).split('-').pop();
      }
      tr.evs.push(e);
    });
    var span = Math.max(t1 - t0, 0.001), W = 600, L = 78, R = 14, LANE = 12;
    var x = function (t) { return L + (W - L - R) * (t - t0) / span; };
    var g = svg('g'), y = 4;
    tracks.forEach(function (tr) {
      var ends = [], placed = [];
      tr.evs.forEach(function (e) {
        /* Greedy lanes: a label goes to the first lane it does not overlap; labels
           near the right edge are pulled left so they stay inside the chart. */
        var label = evLabel(e), px = x(e.t_ms), w = label.length * 6 + 4, lane = 0;
        var lx = Math.min(px + 2, W - w);
        while (lane < ends.length && ends[lane] > lx) lane++;
        if (lane >= 8) lane = ends.indexOf(Math.min.apply(null, ends));
        ends[lane] = lx + w;
        placed.push([e, label, px, lane, lx]);
      });
      var lanes = Math.max(1, ends.length), base = y + lanes * LANE + 8;
      g.appendChild(svg('text', { x: 2, y: base + 3, 'class': 'track' }, tr.name));
      g.appendChild(svg('line', { x1: L, x2: W - R, y1: base, y2: base, 'class': 'track-line' }));
      placed.forEach(function (p) {
        var e = p[0], top = y + p[3] * LANE + 9, ev = svg('g', { 'class': 'ev k-' + evKind(e) });
        ev.appendChild(svg('title', null, '+' + (e.t_ms - t0).toFixed(3) + ' ms ' + (e.event || '') +
          (e.type ? ' ' + e.type : '') + (e.reason ? ': ' + e.reason : '')));
        ev.appendChild(svg('line', { x1: p[2], x2: p[2], y1: top + 2, y2: base }));
        ev.appendChild(svg('circle', { cx: p[2], cy: base, r: 3 }));
        ev.appendChild(svg('text', { x: p[4], y: top }, p[1]));
        g.appendChild(ev);
      });
      y = base + 8;
    });
    var step = niceStep(span), axis = y + 4;
    g.appendChild(svg('line', { x1: L, x2: W - R, y1: axis, y2: axis, 'class': 'axis' }));
    for (var t = 0; t <= span + 1e-9; t += step) {
      g.appendChild(svg('line', { x1: x(t0 + t), x2: x(t0 + t), y1: axis, y2: axis + 4, 'class': 'axis' }));
      g.appendChild(svg('text', { x: x(t0 + t), y: axis + 14, 'text-anchor': 'middle', 'class': 'tick' },
        '+' + (step < 1 ? t.toFixed(2) : Math.round(t)) + ' ms'));
    }
    var root = svg('svg', { 'class': 'timeline', viewBox: '0 0 ' + W + ' ' + (axis + 18),
      role: 'img', 'aria-label': evs.length + ' journal events over ' + span.toFixed(1) + ' ms' });
    root.appendChild(g);
    return root;
  }

  function journal(body, entries) {
    if (!entries || !entries.length) return;
    section(body, 'Journal excerpt (' + entries.length + ' events)');
    var chart = timeline(entries);
    if (chart) body.appendChild(chart);
    var t0 = Infinity;
    entries.forEach(function (e) { if (typeof e.t_ms === 'number') t0 = Math.min(t0, e.t_ms); });
    var t = el('table', 'journal');
    var h = el('tr');
    ['+ms', 'conn', 'event', 'details'].forEach(function (x) { h.appendChild(el('th', null, x)); });
    t.appendChild(h);
    entries.forEach(function (e) {
      var rest = {};
      Object.keys(e).forEach(function (k) { if (!NOISE[k]) rest[k] = e[k]; });
      var tr = el('tr', 'k-' + evKind(e));
      tr.appendChild(el('td', 'num', typeof e.t_ms === 'number' ? (e.t_ms - t0).toFixed(3) : ''));
      tr.appendChild(el('td', 'num', e.conn));
      tr.appendChild(el('td', 'ev-name', e.event));
      tr.appendChild(el('td', null, Object.keys(rest).length ? JSON.stringify(rest) : ''));
      t.appendChild(tr);
    });
    body.appendChild(t);
  }

  /* Expected vs observed, field by field: mismatches first (flagged), then the
     expected fields that matched. The full observed object stays one click away. */
  function compare(body, c) {
    var exp = c.expected && typeof c.expected === 'object' ? c.expected : {};
    var obs = c.observed && typeof c.observed === 'object' ? c.observed : {};
    var mm = c.mismatches || [], flagged = {};
    if (!mm.length && !Object.keys(exp).length) return;
    section(body, 'Expected vs observed' + (mm.length ? ' (' + mm.length + ' mismatch' +
      (mm.length > 1 ? 'es)' : ')') : ''));
    var t = el('table', 'cmp');
    var h = el('tr');
    ['', 'field', 'expected', 'observed'].forEach(function (x) { h.appendChild(el('th', null, x)); });
    t.appendChild(h);
    function row(bad, field, e, o) {
      var tr = el('tr', bad ? 'bad' : 'ok');
      tr.appendChild(el('td', 'mark', bad ? SYM.failed : SYM.passed));
      tr.appendChild(el('td', null, field));
      tr.appendChild(el('td', null, json(e)));
      tr.appendChild(el('td', null, json(o)));
      t.appendChild(tr);
    }
    mm.forEach(function (m) { flagged[m.field] = true; row(true, m.field, m.expected, m.observed); });
    var ran = c.status === 'passed' || c.status === 'failed';
    Object.keys(exp).forEach(function (k) {
      if (flagged[k]) return;
      var o = k === 'journal_has' ? obs.journal_events : obs[k];
      if (ran) row(false, k, exp[k], o);
      else {
        var tr = el('tr', 'na');
        tr.appendChild(el('td', 'mark', SYM.skipped));
        tr.appendChild(el('td', null, k));
        tr.appendChild(el('td', null, json(exp[k])));
        tr.appendChild(el('td', null, '(not run to completion)'));
        t.appendChild(tr);
      }
    });
    body.appendChild(t);
    if (Object.keys(obs).length) {
      var d = el('details', 'observed');
      d.appendChild(el('summary', null, 'Everything observed'));
      d.appendChild(el('pre', null, json(obs)));
      body.appendChild(d);
    }
  }

  var ENDED = {
    device: 'the device exited by itself',
    budget: 'the budget ended the case; the device was still running and the runner stopped it',
    verdict: 'the judge had seen enough; the runner stopped the device',
    interrupt: 'the run was interrupted',
    running: 'still running'
  };

  function seconds(ms) {
    return typeof ms === 'number' ? (ms / 1000).toFixed(ms % 1000 ? 1 : 0) + ' s' : '';
  }

  /* How the device exited: its own exit status or signal, never the runner's stop. */
  function exitText(d) {
    if (!d) return '';
    var how = typeof d.exit_status === 'number' ? 'exit status ' + d.exit_status :
      typeof d.signal === 'number' ? 'signal ' + d.signal : 'did not exit';
    if (d.ended_by && d.ended_by !== 'device' && typeof d.signal === 'number')
      how = 'signal ' + d.signal + ' from the runner';
    return how + (typeof d.ran_ms === 'number' ? ' after ' + seconds(d.ran_ms) : '');
  }

  function needsText(o) {
    var n = o.needs;
    if (!n || typeof n !== 'object') return n ? String(n) : '';
    var keys = Object.keys(n);
    return (o.judge ? o.judge + ': ' : '') +
      (keys.length ? keys.map(function (k) { return k + ' ' + json(n[k]); }).join(', ') : 'no parameters');
  }

  /* Certification cases: the device command, how it ended, the window observed, its log. */
  function device(body, c) {
    var d = c.device, o = c.observation;
    if (!d && !c.device_command) return;
    d = d || {};
    section(body, 'Device');
    var series = (d.series || [d]).map(function (s, i, all) {
      return (all.length > 1 ? 'series ' + (i + 1) + ': ' : '') + exitText(s) +
        (s.ended_by ? ' \u2014 ' + (ENDED[s.ended_by] || s.ended_by) : '');
    });
    var win = o ? 'up to ' + seconds(o.budget_ms) + ' per series, ' + o.series + ' series (' +
      o.series_run + ' ran); ' + needsText(o) : '';
    var t = kvTable([
      ['command', d.command || c.device_command],
      ['exit', series.join('; ') || c.device_exit],
      ['budget ended the case', d.budget_ended === undefined ? '' :
        (d.series || [d]).some(function (s) { return s.budget_ended; }) ? 'yes' : 'no'],
      ['observation window', win],
      ['device.log', d.log]
    ]);
    t.className = 'kv device';
    body.appendChild(t);
  }

  function show(id) {
    load();
    var c = byId.get(id);
    if (!c) return;
    var panel = $('detail'), body = $('detail-body');
    body.textContent = '';
    body.appendChild(el('h3', null, c.title));
    body.appendChild(el('div', 'id', c.id));
    var st = el('p', 'status st-' + c.status, (SYM[c.status] || '?') + ' ' + c.status +
      (c.verdict ? ' (' + c.verdict + ')' : ''));
    body.appendChild(st);
    var facts = [c.suite, c.row, c.family, c.ip_family, c.tls_version ? 'TLS ' + c.tls_version : '',
      c.duration_ms !== undefined ? c.duration_ms + ' ms' : '', c.started_at];
    body.appendChild(el('p', 'facts', facts.filter(function (f) { return f; }).join(' \u00b7 ')));
    if (c.requirement) {
      section(body, 'Requirement');
      body.appendChild(el('blockquote', null, c.requirement.text || ''));
      body.appendChild(el('div', 'id', c.requirement.source || ''));
    }
    if (c.reason) {
      section(body, 'Reason');
      body.appendChild(el('p', 'reason st-' + c.status, c.reason));
    }
    device(body, c);
    compare(body, c);
    journal(body, c.journal);
    section(body, 'Case');
    body.appendChild(kvTable([
      ['suite', c.suite], ['row', c.row], ['family', c.family], ['template', c.template],
      ['IP family', c.ip_family], ['TLS version', c.tls_version], ['profile', c.profile],
      ['twin', c.twin], ['client', c.client ? JSON.stringify(c.client) : ''],
      ['started', c.started_at], ['duration', c.duration_ms !== undefined ? c.duration_ms + ' ms' : '']
    ]));
    if (!cellById) {
      cellById = new Map();
      cells.forEach(function (x) { cellById.set(x.getAttribute('data-case-id'), x); });
    }
    select(cellById.get(id) || null);
    panel.hidden = false;
    document.body.classList.add('detail-open');
    panel.focus();
    if (history.replaceState) history.replaceState(null, '', '#case=' + encodeURIComponent(id));
  }

  /* One remembered selection: no sweep over thousands of cells per click. */
  function select(cell) {
    if (selected) selected.classList.remove('selected');
    selected = cell;
    if (cell) cell.classList.add('selected');
  }

  function hide() {
    $('detail').hidden = true;
    document.body.classList.remove('detail-open');
    select(null);
    if (history.replaceState) history.replaceState(null, '', location.pathname + location.search);
  }

  function matches(status, row, suite, id) {
    var fs = $('f-status').value, fr = $('f-row').value, fu = $('f-suite').value;
    var q = $('f-text').value.trim().toLowerCase();
    return (!fs || status === fs) && (!fr || row === fr) && (!fu || suite === fu) &&
      (!q || id.toLowerCase().indexOf(q) >= 0);
  }

  function applyFilters() {
    var shown = 0, fr = $('f-row').value;
    cells.forEach(function (x) {
      var ok = matches(x.getAttribute('data-status'), x.getAttribute('data-row'),
        x.getAttribute('data-suite'), x.getAttribute('data-case-id'));
      x.classList.toggle('hidden', !ok);
      if (ok) shown++;
    });
    rows.forEach(function (tr) { tr.classList.toggle('hidden', !!fr && tr.getAttribute('data-row') !== fr); });
    aggs.forEach(function (td) { td.classList.toggle('dim', !td.querySelector('.case-cell:not(.hidden)')); });
    $('f-count').textContent = shown + ' of ' + cells.length + ' cases shown';
    if ($('list').open) renderList(true);
  }

  function renderList(reset) {
    load();
    var tbody = $('list-body');
    if (reset) {
      tbody.textContent = '';
      listShown = 0;
      listRows = data.cases.filter(function (c) { return matches(c.status, c.row, c.suite, c.id); });
    }
    var end = Math.min(listRows.length, listShown + PAGE);
    var frag = document.createDocumentFragment();
    for (var i = listShown; i < end; i++) {
      var c = listRows[i], tr = el('tr');
      tr.appendChild(el('td', 'st-' + c.status, (SYM[c.status] || '?') + ' ' + c.status));
      var idc = el('td', 'id', c.id);
      idc.setAttribute('data-case-id', c.id);
      tr.appendChild(idc);
      tr.appendChild(el('td', null, c.suite));
      tr.appendChild(el('td', null, c.row));
      tr.appendChild(el('td', null, c.family || ''));
      tr.appendChild(el('td', null, c.title));
      tr.appendChild(el('td', null, c.reason || ''));
      frag.appendChild(tr);
    }
    tbody.appendChild(frag);
    listShown = end;
    $('list-more').hidden = listShown >= listRows.length;
  }

  document.addEventListener('click', function (ev) {
    var t = ev.target.closest ? ev.target.closest('[data-case-id]') : null;
    if (t) show(t.getAttribute('data-case-id'));
  });
  document.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') hide(); });
  $('detail-close').addEventListener('click', hide);
  ['f-status', 'f-row', 'f-suite'].forEach(function (id) { $(id).addEventListener('change', applyFilters); });
  var timer = 0;
  $('f-text').addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(applyFilters, 150); });
  $('list').addEventListener('toggle', function () { if ($('list').open) renderList(true); });
  $('list-more').addEventListener('click', function () { renderList(false); });
  $('f-count').textContent = cells.length + ' cases';
  var m = /^#case=(.+)$/.exec(location.hash);
  if (m) show(decodeURIComponent(m[1]));
})();
