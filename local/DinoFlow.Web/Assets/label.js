// Keyboard-first labeling: digits choose, Enter submits, Backspace goes back, +/- zoom. One page for the whole job:
// assignments come from the API in batches and the next images are prefetched, so nothing reloads per image.
'use strict';
(async () => {
  const job = decodeURIComponent(location.pathname.split('/')[2]);
  const $ = id => document.getElementById(id);
  const image = $('image'), stage = $('stage');
  let categories = [], queue = [], history = [], current = null, selected = -1, back = -1, zoom = 1, busy = false, fetching = null, mine = 0;
  const prefetched = new Map();

  const session = await portal.session();
  $('user').textContent = session.user;
  const info = await portal.call('GET', `/api/portal/jobs/${encodeURIComponent(job)}`);
  categories = info.categories;
  $('job').textContent = info.name;
  $('instructions').textContent = info.instructions;
  history = await portal.call('GET', `/api/portal/jobs/${encodeURIComponent(job)}/history?limit=100`);
  mine = history.length;
  const list = $('labels');
  categories.forEach((name, i) => {
    const li = document.createElement('li');
    if (i < 10) li.append(portal.text('kbd', String((i + 1) % 10)), ' ');
    li.append(name);
    li.addEventListener('click', () => { selected = i; render(); });
    list.append(li);
  });

  function prefetch(item) {
    if (prefetched.has(item.imageUrl)) return;
    const img = new Image();
    img.src = item.imageUrl;
    prefetched.set(item.imageUrl, img);
  }

  async function fill() {
    if (queue.length >= 3) return;
    if (!fetching) {
      fetching = portal.call('POST', `/api/portal/jobs/${encodeURIComponent(job)}/next?count=8`).then(items => {
        for (const item of items) if (!queue.some(q => q.itemId === item.itemId) && current?.itemId !== item.itemId) queue.push(item);
        queue.forEach(prefetch);
      }).finally(() => { fetching = null; });
    }
    await fetching;
  }

  function render() {
    [...list.children].forEach((li, i) => {
      li.classList.toggle('selected', i === selected);
      li.classList.toggle('guess', current?.guess?.label === categories[i]);
    });
    $('guess').textContent = current?.guess ? `Model's guess: ${current.guess.label} (${Math.round(current.guess.confidence * 100)}%)` : '';
    $('progress').textContent = `You: ${mine} labeled` + (back >= 0 ? ` · reviewing ${history.length - back} back` : '');
  }

  function show(item) {
    current = item;
    setZoom(1);
    $('done').hidden = item !== null;
    image.hidden = item === null;
    if (item === null) { render(); return; }
    image.src = item.imageUrl;
    // A label already given (going back) is selected; otherwise the model's guess, so Enter accepts it.
    selected = categories.indexOf(item.label ?? item.guess?.label ?? '');
    render();
    queue.slice(0, 4).forEach(prefetch);
  }

  function setZoom(z) {
    zoom = Math.min(8, Math.max(1, z));
    image.classList.toggle('fit', zoom === 1);
    stage.classList.toggle('zoomed', zoom > 1);
    image.style.width = zoom === 1 ? '' : `${stage.clientWidth * zoom}px`;
    if (zoom > 1) { stage.scrollLeft = (stage.scrollWidth - stage.clientWidth) / 2; stage.scrollTop = (stage.scrollHeight - stage.clientHeight) / 2; }
  }

  async function submit() {
    if (!current || selected < 0 || busy) return;
    busy = true;
    $('status').textContent = '';
    try {
      const label = categories[selected];
      await portal.call('POST', `/api/portal/jobs/${encodeURIComponent(job)}/items/${current.itemId}/label`, { label });
      if (back >= 0) {
        history[back].label = label;
        back++;
        if (back < history.length) { show(history[back]); return; }
        back = -1;
      } else {
        history.push({ ...current, label });
        mine++;
        queue = queue.filter(q => q.itemId !== current.itemId);
      }
      if (queue.length === 0) await fill();
      show(queue[0] ?? null);
      fill();
    } catch (e) {
      $('status').textContent = e.message;
    } finally {
      busy = false;
    }
  }

  function goBack() {
    if (busy) return;
    const target = back >= 0 ? back - 1 : history.length - 1;
    if (target < 0) return;
    back = target;
    show(history[back]);
  }

  document.addEventListener('keydown', e => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (/^[0-9]$/.test(e.key)) {
      const i = (Number(e.key) + 9) % 10;
      if (i < categories.length) { selected = i; render(); }
    } else if (e.key === 'Enter') { e.preventDefault(); submit(); }
    else if (e.key === 'Backspace') { e.preventDefault(); goBack(); }
    else if (e.key === '+' || e.key === '=') setZoom(zoom * 1.5);
    else if (e.key === '-') setZoom(zoom / 1.5);
    else if (e.key === 'f') setZoom(1);
    else return;
  });
  image.addEventListener('click', () => setZoom(zoom === 1 ? 2 : 1));

  await fill();
  show(queue[0] ?? null);
  document.body.dataset.ready = 'true';
})();
