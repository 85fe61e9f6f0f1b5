// The DinoFlow dashboard page: renders the snapshots the server pushes over server-sent events
// (api/dashboard/events), draws the chart as SVG itself (no libraries, no CDN), and retries runs with
// the CSRF token from api/session. All text from the server goes in through textContent, never as HTML.
'use strict';

(() => {
  const palette = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const svgNs = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  let csrfToken = null;
  let events = null;
  let snapshot = null;
  // Clicked retries: the run's updatedAt at the click. The button stays "Retrying…" until the run has moved on from
  // that state and is not retrying any more; then it follows the run (Retry again with the new error, or gone).
  const pendingRetries = new Map();
  const openRuns = new Set(); // runs whose details the user opened: kept open across snapshots
  const healthText = { ok: 'OK', silent: 'Silent', slow: 'Slow', dropping: 'Dropping frames', spool: 'Spool filling' };

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value !== null && value !== undefined) node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(svgNs, tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    return node;
  }

  const time = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const dateTime = (iso) => new Date(iso).toLocaleString();
  const number = (value, digits) => value === null || value === undefined ? '–' : Number(value).toFixed(digits);

  function ago(iso) {
    if (!iso) return 'never';
    const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
    return dateTime(iso);
  }

  function duration(ms) {
    if (ms === null || ms === undefined) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }

  function colourOf(label, labels) {
    return palette[labels.indexOf(label) % palette.length];
  }

  // Stacked bars: one bar per time bucket, one colour per class.
  function renderChart(chart) {
    const box = $('chart');
    const legend = $('legend');
    box.replaceChildren();
    legend.replaceChildren();
    const series = chart.series;
    $('no-detections').hidden = series.some((s) => s.total > 0);
    const labels = series.map((s) => s.label);
    const buckets = series.length ? series[0].counts.length : Math.round((new Date(chart.to) - new Date(chart.from)) / 1000 / chart.bucketSeconds);
    const totals = Array.from({ length: buckets }, (_, i) => series.reduce((sum, s) => sum + s.counts[i], 0));
    const max = Math.max(1, ...totals);
    const width = 800, height = 240, left = 40, right = 10, top = 10, bottom = 24;
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    const barWidth = plotWidth / Math.max(1, buckets);
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none' });

    const step = Math.max(1, Math.ceil(max / 4));
    for (let value = 0; value <= max; value += step) {
      const y = top + plotHeight - (value / max) * plotHeight;
      root.append(svg('line', { class: 'axis', x1: left - 4, x2: left, y1: y, y2: y }));
      const tick = svg('text', { class: 'tick', x: left - 6, y: y + 4, 'text-anchor': 'end' });
      tick.textContent = value;
      root.append(tick);
    }

    for (let i = 0; i < buckets; i++) {
      let y = top + plotHeight;
      const start = new Date(new Date(chart.from).getTime() + i * chart.bucketSeconds * 1000).toISOString();
      for (const s of series) {
        if (!s.counts[i]) continue;
        const h = (s.counts[i] / max) * plotHeight;
        y -= h;
        const bar = svg('rect', { x: left + i * barWidth + 1, y, width: Math.max(1, barWidth - 2), height: h, fill: colourOf(s.label, labels), 'data-label': s.label, 'data-count': s.counts[i] });
        const title = svg('title');
        title.textContent = `${s.label}: ${s.counts[i]} at ${time(start)}`;
        bar.append(title);
        root.append(bar);
      }
    }

    root.append(svg('line', { class: 'axis', x1: left, x2: left, y1: top, y2: top + plotHeight }));
    root.append(svg('line', { class: 'axis', x1: left, x2: width - right, y1: top + plotHeight, y2: top + plotHeight }));
    for (const [x, iso, anchor] of [[left, chart.from, 'start'], [width - right, chart.to, 'end']]) {
      const tick = svg('text', { class: 'tick', x, y: height - 6, 'text-anchor': anchor });
      tick.textContent = time(iso);
      root.append(tick);
    }
    box.append(root);

    for (const s of series) {
      const swatch = el('span', { class: 'swatch' });
      swatch.style.background = colourOf(s.label, labels); // through the CSSOM: the CSP allows no inline style attributes
      legend.append(el('li', { 'data-label': s.label, 'data-total': s.total }, swatch, el('span', { class: 'name' }, s.label), ' ', el('span', { class: 'total' }, s.total)));
    }
  }

  function renderDevices(devices) {
    $('no-devices').hidden = devices.length > 0;
    $('device-rows').replaceChildren(...devices.map((d) => el('tr', { 'data-device': d.deviceId, 'data-health': d.health },
      el('td', { class: 'device' }, d.deviceId),
      el('td', { class: 'health' },
        el('span', { class: `badge status-${d.health === 'ok' ? 'ok' : d.health === 'silent' ? 'stale' : 'warn'}` }, healthText[d.health] ?? d.health),
        d.problems.length ? el('div', { class: 'problems' }, d.problems.join('; ')) : null),
      el('td', { class: 'last-seen', title: d.lastSeen ? dateTime(d.lastSeen) : null, 'data-time': d.lastSeen }, ago(d.lastSeen)),
      el('td', { class: 'fps num' }, number(d.fps, 1)),
      el('td', { class: 'latency num' }, d.latencyP50Ms === null ? '–' : `${number(d.latencyP50Ms, 1)} / ${number(d.latencyP99Ms, 1)} ms`),
      el('td', { class: 'model-version' }, d.modelVersion ?? '–'),
      el('td', { class: 'source-state' }, [d.sourceState, d.executionProvider].filter(Boolean).join(', ') || '–'),
      el('td', { class: 'dropped num' }, d.framesDropped ?? '–'),
      el('td', { class: 'unknown num', title: d.framesProcessed === null ? null : `of ${d.framesProcessed} frames since the device started` }, unknownText(d)),
      el('td', { class: 'detections num' }, d.detections))));
  }

  // Unknown frames since the device started, and their share of the frames it processed (the host computes the share).
  function unknownText(d) {
    if (d.unknownFrames === null) return '–';
    return d.unknownShare === null ? String(d.unknownFrames) : `${d.unknownFrames} (${number(100 * d.unknownShare, 1)} %)`;
  }

  // The run's model: version and validation accuracy next to where it was deployed; a warning when it was deployed
  // below the default gate (its run's gate was lowered).
  function renderModel(model) {
    const parts = [el('span', { class: 'model-version' }, model.version), ` validation accuracy ${number(model.validationAccuracy, 3)}`];
    if (model.deployedTo.length) parts.push(` · deployed to ${model.deployedTo.join(', ')}`);
    const node = el('span', { class: 'model', 'data-version': model.version }, ...parts);
    if (model.belowDefaultGate) {
      node.append(' ', el('span', { class: 'badge status-warn below-gate' },
        `⚠ below the default gate ${number(model.defaultGate, 2)}` + (model.gateMinAccuracy === null ? '' : ` (this run's gate: ${number(model.gateMinAccuracy, 2)})`)));
    }
    return node;
  }

  function renderRuns(runs) {
    $('no-runs').hidden = runs.length > 0;
    for (const run of runs) {
      const pending = pendingRetries.get(run.id);
      if (!pending) continue;
      if (run.retrying) { pending.seen = true; continue; }
      if (!run.canRetry || pending.seen || run.updatedAt !== pending.updatedAt) {
        pendingRetries.delete(run.id);
        $('retry-message').textContent = run.status === 'Failed'
          ? `Run ${run.id}: the retry failed again: ${run.error ?? 'see its steps'}`
          : `Run ${run.id}: retried, now ${run.status}.`;
      }
    }
    // One line per run (id, status, when, source, the error if any); a click opens its steps.
    $('run-list').replaceChildren(...runs.map((run) => {
      const status = run.retrying ? 'Retrying' : run.status;
      const summary = el('summary', { class: 'run-head' },
        el('strong', { class: 'run-id' }, run.id),
        el('span', { class: `status run-status status-${status}` }, status),
        el('span', { class: 'created', title: dateTime(run.updatedAt) }, dateTime(run.createdAt)),
        el('span', { class: 'source' }, run.source),
        run.error ? el('span', { class: 'run-error-line' }, run.error) : null,
        run.model ? renderModel(run.model) : null);
      const rows = run.steps.map((s) => el('tr', { 'data-step': s.name },
        el('td', { class: 'step-name' }, s.name),
        el('td', { class: `status step-status status-${s.status}` }, s.status),
        el('td', { class: 'num' }, duration(s.durationMs)),
        el('td', { class: 'num step-attempts' }, s.attempts),
        el('td', {}, s.summary ?? '', s.error ? el('div', { class: 'step-error' }, `${s.errorKind}: ${s.error}`) : null)));
      const steps = el('table', { class: 'steps' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Step'), el('th', {}, 'Status'), el('th', {}, 'Duration'), el('th', {}, 'Attempts'), el('th', {}, 'Output / error'))),
        el('tbody', {}, ...rows));
      const details = el('details', { class: 'run-details' }, summary, run.error ? el('div', { class: 'run-error' }, run.error) : null, steps);
      details.open = openRuns.has(run.id);
      details.addEventListener('toggle', () => { if (details.open) openRuns.add(run.id); else openRuns.delete(run.id); });
      const box = el('div', { class: 'run', 'data-run': run.id, 'data-status': status }, details);
      // The button sits beside the summary, not in it (no control inside another).
      if (run.canRetry || pendingRetries.has(run.id)) {
        const pending = pendingRetries.has(run.id);
        const button = el('button', { class: 'retry', type: 'button', 'data-run': run.id }, pending ? 'Retrying…' : 'Retry');
        button.disabled = pending;
        button.addEventListener('click', () => retry(run, button));
        box.append(button);
      }
      return box;
    }));
  }

  const driftText = { stable: 'Stable', shifted: 'Shifted', collecting: 'Collecting' };
  const modelReport = (version) => `/dashboard/models/${encodeURIComponent(version)}/report`;

  const driftBadge = (state) => el('span', { class: `badge status-${state === 'shifted' ? 'warn' : state === 'stable' ? 'ok' : 'stale'}` }, driftText[state] ?? state);

  // The device's own check from its health (what AWS alarms on), under the host's: the two can differ while
  // detections wait in the device's spool.
  const deviceDrift = (r) => r ? el('div', { class: 'device-drift', 'data-device-drift': r.state },
    'On the device: ', driftBadge(r.state), ` ${r.baselineCount} → ${r.windowCount}`,
    r.reasons.length ? el('div', { class: 'device-reasons' }, r.reasons.join('; ')) : null) : null;

  // Drift per device (a badge and its reasons), the model timeline, the latest detections with their lineage and
  // report links, and the latest snapshots per device and class.
  function renderInsights(insights, devices) {
    if (!insights) return;
    const timelines = new Map(insights.timelines.map((t) => [t.deviceId, t.periods]));
    const reported = new Map((devices || []).map((d) => [d.deviceId, d.drift]));
    $('drift-rows').replaceChildren(...insights.drift.map((d) => el('tr', { 'data-device': d.deviceId, 'data-drift': d.state },
      el('td', {}, d.deviceId),
      el('td', { class: 'drift' },
        driftBadge(d.state),
        d.reasons.length ? el('div', { class: 'problems' }, d.reasons.join('; ')) : null,
        deviceDrift(reported.get(d.deviceId))),
      el('td', { class: 'num' }, `${d.baselineCount} → ${d.windowCount} detections, mean confidence ${number(d.baselineMeanConfidence, 3)} → ${number(d.windowMeanConfidence, 3)}`),
      el('td', { class: 'timeline' }, ...(timelines.get(d.deviceId) || []).map((p) =>
        el('span', { class: 'period', 'data-version': p.version, title: `${dateTime(p.from)} – ${dateTime(p.to)}, ${p.detections} detections` },
          `${p.version} (${time(p.from)}–${time(p.to)})`))))));
    $('latest-rows').replaceChildren(...insights.latest.map((x) => el('tr', { 'data-event': x.eventId },
      el('td', { title: dateTime(x.timestamp) }, ago(x.timestamp)),
      el('td', {}, x.deviceId),
      el('td', {}, x.label),
      el('td', { class: 'num' }, number(x.confidence, 3)),
      el('td', {}, x.modelVersion),
      el('td', {},
        el('a', { class: 'trace-link', href: `/dashboard/trace/${encodeURIComponent(x.eventId)}` }, 'lineage'), ' · ',
        el('a', { class: 'report-link', href: modelReport(x.modelVersion) }, 'report')))));
    $('no-snapshots').hidden = insights.snapshots.length > 0;
    $('snapshots').replaceChildren(...insights.snapshots.map((s) => el('figure', { class: 'snapshot', 'data-event': s.eventId },
      el('img', { src: `/api/dashboard/snapshots/${encodeURIComponent(s.eventId)}`, alt: `${s.label} on ${s.deviceId}`, width: '112', height: '112' }),
      el('figcaption', {}, `${s.deviceId} · ${s.label} · ${ago(s.timestamp)} · `,
        el('a', { href: `/dashboard/trace/${encodeURIComponent(s.eventId)}` }, 'lineage')))));
    const canaries = insights.canaries || [];
    $('no-canaries').hidden = canaries.length > 0;
    $('canary-rows').replaceChildren(...canaries.map((c) => el('tr', { 'data-deployment': c.deploymentId, 'data-outcome': c.outcome },
      el('td', { title: dateTime(c.decidedAt) }, ago(c.decidedAt)),
      el('td', {}, c.version),
      el('td', {}, c.canaries.join(', ')),
      el('td', {}, el('span', { class: `badge status-${c.outcome === 'Promote' ? 'ok' : 'warn'}` }, c.outcome === 'Promote' ? 'Promoted' : 'Rolled back')),
      el('td', { title: c.policy }, c.findings.join('; ')))));
  }

  function render() {
    if (!snapshot) return;
    renderChart(snapshot.detections);
    renderDevices(snapshot.devices);
    renderInsights(snapshot.insights, snapshot.devices);
    renderRuns(snapshot.runs);
  }

  async function retry(run, button) {
    const runId = run.id;
    if (pendingRetries.has(runId)) return;
    pendingRetries.set(runId, { updatedAt: run.updatedAt, seen: false });
    button.disabled = true; // a double click sends one request; the server refuses a second retry anyway
    button.textContent = 'Retrying…';
    const message = $('retry-message');
    try {
      const response = await fetch(`api/runs/${encodeURIComponent(runId)}/retry`, {
        method: 'POST',
        headers: { 'X-CSRF-TOKEN': csrfToken ?? '' },
        credentials: 'same-origin',
      });
      if (response.redirected || response.status === 401) {
        // The session ended (a redirect to the login page also answers 200, so check for it first).
        setConnection('closed', 'not signed in');
        message.textContent = `Run ${runId}: not retried, your session has ended.`;
      } else if (response.ok) {
        message.textContent = `Run ${runId}: retry started.`;
        return;
      } else {
        const problem = await response.json().catch(() => ({}));
        message.textContent = `Run ${runId}: ${problem.title ?? `retry refused (${response.status})`}`;
        if (response.status === 400) await loadSession(); // a stale CSRF token: the next click sends a fresh one
      }
    } catch (error) {
      message.textContent = `Run ${runId}: retry failed to send (${error}).`;
    }
    pendingRetries.delete(runId);
    render();
  }

  function setConnection(state, text) {
    const connection = $('connection');
    connection.dataset.state = state;
    connection.replaceChildren(text);
    if (state === 'closed') {
      connection.append(' — ', el('a', { href: 'login' }, 'log in again'));
    }
  }

  function connect() {
    if (events) events.close();
    events = new EventSource(`api/dashboard/events?window=${encodeURIComponent($('window').value)}`);
    events.onopen = () => setConnection('live', 'live');
    events.addEventListener('snapshot', (e) => {
      snapshot = JSON.parse(e.data);
      $('connection').title = `updated ${new Date().toLocaleTimeString()}`;
      render();
    });
    // The browser reconnects by itself after a network error; a refused request (session gone) closes the stream.
    events.onerror = () => setConnection(events.readyState === EventSource.CLOSED ? 'closed' : 'connecting',
      events.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…');
  }

  async function loadSession() {
    try {
      const response = await fetch('api/session', { credentials: 'same-origin' });
      if (!response.ok || response.redirected) throw new Error(`session: ${response.status}`);
      const session = await response.json();
      csrfToken = session.csrfToken;
      $('user').textContent = session.user ?? '';
      return true;
    } catch {
      setConnection('closed', 'not signed in');
      return false;
    }
  }

  // Log out as the portal's pages do: POST /logout with the CSRF token, then the login page.
  $('logout').addEventListener('click', async () => {
    if (events) events.close();
    try {
      await fetch('/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-TOKEN': csrfToken ?? '' } });
    } finally {
      location.href = '/login';
    }
  });

  async function start() {
    if (!await loadSession()) return;
    $('window').addEventListener('change', connect);
    connect();
    document.body.dataset.ready = 'true'; // for tests and scripts: the page is usable
    // "Last seen … ago" keeps counting between snapshots.
    setInterval(() => {
      for (const cell of document.querySelectorAll('#device-rows .last-seen')) cell.textContent = ago(cell.dataset.time);
    }, 5000);
  }

  start();
})();
