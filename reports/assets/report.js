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

  function journal(body, entries) {
    if (!entries || !entries.length) return;
    section(body, 'Journal excerpt (' + entries.length + ' events)');
    var tmax = 0;
    entries.forEach(function (e) { if (typeof e.t_ms === 'number' && e.t_ms > tmax) tmax = e.t_ms; });
    if (tmax > 0) {
      var tl = el('div', 'timeline');
      tl.setAttribute('role', 'img');
      tl.setAttribute('aria-label', 'event timeline over ' + tmax.toFixed(1) + ' ms');
      entries.forEach(function (e) {
        if (typeof e.t_ms !== 'number') return;
        var m = el('span');
        m.style.left = (100 * e.t_ms / tmax).toFixed(2) + '%';
        m.title = e.t_ms + ' ms ' + (e.event || '');
        tl.appendChild(m);
      });
      body.appendChild(tl);
    }
    var t = el('table');
    var h = el('tr');
    ['t (ms)', 'event', 'details'].forEach(function (x) { h.appendChild(el('th', null, x)); });
    t.appendChild(h);
    entries.forEach(function (e) {
      var rest = {};
      Object.keys(e).forEach(function (k) { if (k !== 't_ms' && k !== 'event') rest[k] = e[k]; });
      var tr = el('tr');
      tr.appendChild(el('td', null, e.t_ms));
      tr.appendChild(el('td', null, e.event));
      tr.appendChild(el('td', null, Object.keys(rest).length ? JSON.stringify(rest) : ''));
      t.appendChild(tr);
    });
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
    body.appendChild(kvTable([
      ['suite', c.suite], ['row', c.row], ['family', c.family], ['template', c.template],
      ['IP family', c.ip_family], ['TLS version', c.tls_version],
      ['started', c.started_at], ['duration', c.duration_ms !== undefined ? c.duration_ms + ' ms' : '']
    ]));
    if (c.requirement) {
      section(body, 'Requirement');
      body.appendChild(el('div', 'id', c.requirement.source || ''));
      body.appendChild(el('blockquote', null, c.requirement.text || ''));
    }
    if (c.reason) {
      section(body, 'Reason');
      body.appendChild(el('p', null, c.reason));
    }
    if (c.mismatches && c.mismatches.length) {
      section(body, 'Mismatches (' + c.mismatches.length + ')');
      var t = el('table');
      var h = el('tr');
      ['field', 'expected', 'observed'].forEach(function (x) { h.appendChild(el('th', null, x)); });
      t.appendChild(h);
      c.mismatches.forEach(function (m) {
        var tr = el('tr');
        tr.appendChild(el('td', null, m.field));
        tr.appendChild(el('td', null, json(m.expected)));
        tr.appendChild(el('td', null, json(m.observed)));
        t.appendChild(tr);
      });
      body.appendChild(t);
    }
    if (c.expected !== undefined || c.observed !== undefined) {
      section(body, 'Expected vs observed');
      var cmp = el('div', 'cmp');
      var a = el('div'), b = el('div');
      a.appendChild(el('strong', null, 'expected'));
      a.appendChild(el('pre', null, json(c.expected)));
      b.appendChild(el('strong', null, 'observed'));
      b.appendChild(el('pre', null, json(c.observed)));
      cmp.appendChild(a);
      cmp.appendChild(b);
      body.appendChild(cmp);
    }
    journal(body, c.journal);
    cells.forEach(function (x) { x.classList.toggle('selected', x.getAttribute('data-case-id') === id); });
    panel.hidden = false;
    panel.focus();
    if (history.replaceState) history.replaceState(null, '', '#case=' + encodeURIComponent(id));
  }

  function hide() {
    $('detail').hidden = true;
    cells.forEach(function (x) { x.classList.remove('selected'); });
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
