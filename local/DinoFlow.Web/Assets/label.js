// Labeling by keyboard, mouse or touch: digits (or a click, a tap, Tab and the arrows) choose a label, Enter or the
// Submit button submits, Backspace or Back goes back, Skip shows the image again later, +/- zoom. One page for the
// whole job: assignments come from the API in batches and the next images are prefetched, so nothing reloads per image.
// The labels are a radio group (one tab stop, arrows move the choice); each save is announced in a live region.
// The progress panel shows the worker's own progress and the job's, with the time left at the worker's recent pace
// (from the server: every submit answers with it). The model's guess is shown, and preselected only when the server
// says so (the model passed its auto-label check, or the job asks for it).
'use strict';
(async () => {
  const job = decodeURIComponent(location.pathname.split('/')[2]);
  const $ = id => document.getElementById(id);
  const image = $('image'), stage = $('stage');
  let categories = [], queue = [], history = [], current = null, selected = -1, back = -1, zoom = 1, busy = false, fetching = null, mine = null;
  const prefetched = new Map();
  const LETTERS = 'abcdeghijklmnopqrstuvwxyz'.split('');

  const session = await portal.session();
  $('user').textContent = session.user;
  const info = await portal.call('GET', `/api/portal/jobs/${encodeURIComponent(job)}`);
  categories = info.categories;
  $('job').textContent = info.name;
  $('instructions').textContent = info.instructions;
  history = await portal.call('GET', `/api/portal/jobs/${encodeURIComponent(job)}/history?limit=100`);
  mine = await portal.call('GET', `/api/portal/jobs/${encodeURIComponent(job)}/mine`);
  const list = $('labels');
  categories.forEach((name, i) => {
    const radio = document.createElement('div');
    radio.setAttribute('role', 'radio');
    radio.setAttribute('aria-checked', 'false');
    radio.className = 'choice';
    radio.dataset.label = name;
    if (keyOf(i)) radio.append(portal.text('kbd', keyOf(i)), ' ');
    radio.append(portal.text('span', name, 'name'));
    radio.addEventListener('click', () => choose(i, false));
    list.append(radio);
  });
  const radios = () => [...list.children];
  const visible = () => radios().filter(r => !r.hidden);
  // Long label sets: a filter box, and the keys list of every key ('?').
  if (categories.length > 10) { $('filter').hidden = false; $('letter-keys').hidden = false; }
  for (const [key, does] of [...categories.map((name, i) => [keyOf(i) ?? '(filter)', `Choose ${name}`]),
    ['Tab, arrows', 'Move in the labels'], ['Enter', 'Submit'], ['Backspace', 'Back'], ['+ / -', 'Zoom'], ['f', 'Fit'], ['/', 'Filter the labels'], ['?', 'This list'], ['Esc', 'Close this list']]) {
    const row = document.createElement('tr');
    row.append(portal.text('td', key), portal.text('td', does));
    $('keys-list').append(row);
  }

  // A label's key: 1-9 and 0 for the first ten, then a-z without f (the fit key) for the next 25; none after that.
  function keyOf(i) {
    if (i < 10) return String((i + 1) % 10);
    return LETTERS[i - 10];
  }

  function labelOfKey(key) {
    if (/^[0-9]$/.test(key)) return (Number(key) + 9) % 10;
    const at = LETTERS.indexOf(key);
    return at < 0 ? -1 : 10 + at;
  }

  function filterLabels(text) {
    const needle = text.trim().toLowerCase();
    radios().forEach((radio, i) => { radio.hidden = needle !== '' && !categories[i].toLowerCase().includes(needle); });
  }

  let helpReturn = null;
  function openHelp() {
    helpReturn = document.activeElement;
    $('keys-help').hidden = false;
    $('close-keys').focus();
  }

  function closeHelp() {
    $('keys-help').hidden = true;
    (helpReturn && document.contains(helpReturn) ? helpReturn : document.body).focus();
    helpReturn = null;
  }

  function choose(i, focus) {
    selected = i;
    clearStatus();
    render();
    if (focus) radios()[i]?.focus();
  }

  // Arrows move the choice inside the group (as radio buttons do); Space chooses the focused label.
  list.addEventListener('keydown', e => {
    const shown = visible();
    const at = shown.indexOf(document.activeElement);
    if (at < 0 || shown.length === 0) return;
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[e.key];
    if (step) { e.preventDefault(); e.stopPropagation(); choose(radios().indexOf(shown[(at + step + shown.length) % shown.length]), true); }
    else if (e.key === ' ') { e.preventDefault(); e.stopPropagation(); choose(radios().indexOf(shown[at]), true); }
  });

  function clearStatus() {
    $('status').className = '';
    $('status').textContent = '';
  }

  function hint(text) {
    const status = $('status');
    status.className = 'hint';
    status.textContent = text;
  }

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
    radios().forEach((radio, i) => {
      radio.setAttribute('aria-checked', String(i === selected));
      radio.classList.toggle('selected', i === selected);
      radio.classList.toggle('guess', !current?.guess?.unknown && current?.guess?.label === categories[i]);
      // One tab stop: the chosen label if shown, or the first shown one.
      const stop = selected >= 0 && !radios()[selected].hidden ? selected : radios().indexOf(visible()[0]);
      radio.tabIndex = i === stop ? 0 : -1;
    });
    $('back').disabled = (back >= 0 ? back : history.length) <= 0;
    $('skip').disabled = current === null;
    $('submit').disabled = current === null;
    // An image the model calls none of its classes: no class is suggested, a person decides.
    $('guess').textContent = !current?.guess ? '' : current.guess.unknown ? `Model's guess: ${current.guess.display}` :
      `Model's guess: ${current.guess.label} (${Math.round(current.guess.confidence * 100)}%)` +
      (mine.preselectGuesses ? ' · preselected' : ' · not preselected: choose what you see');
    // Why the image is here, when the job says (a frame a device's model was unsure of: device, model, reasons).
    $('origin').textContent = current?.origin ? `Why: ${current.origin}` : '';
    $('progress').textContent = back >= 0 ? `Reviewing ${history.length - back} back` : '';
    renderProgress();
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    if (seconds < 60) return `about ${Math.max(1, Math.round(seconds))} s`;
    if (seconds < 3600) return `about ${Math.round(seconds / 60)} min`;
    return `about ${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
  }

  function renderProgress() {
    $('mine-done').textContent = String(mine.done);
    $('mine-left').textContent = String(mine.left);
    $('mine-bar').max = Math.max(1, mine.done + mine.left);
    $('mine-bar').value = mine.done;
    $('job-finished').textContent = String(mine.finished);
    $('job-items').textContent = String(mine.items);
    $('job-waiting').textContent = String(mine.waitingForOthers);
    $('job-waiting-part').hidden = mine.annotatorsPerImage < 2;
    $('job-bar').max = Math.max(1, mine.items);
    $('job-bar').value = mine.finished;
    $('eta').textContent = mine.left === 0 ? 'none' : duration(mine.secondsLeft);
  }

  function show(item) {
    current = item;
    clearStatus();
    setZoom(1);
    $('done').hidden = item !== null;
    image.hidden = item === null;
    if (item === null) { render(); return; }
    image.src = item.imageUrl;
    // A name a screen reader can say: where the worker is and which file it is.
    const file = decodeURIComponent(item.imageUrl.split('/').pop());
    const position = back >= 0 ? mine.done - history.length + back + 1 : mine.done + 1;
    image.alt = `Image ${position} of ${mine.done + mine.left}: ${file}`;
    // A label already given (going back) is selected; the model's guess only when the server trusts it (Enter accepts it).
    selected = categories.indexOf(item.label ?? (mine.preselectGuesses && !item.guess?.unknown ? item.guess?.label : null) ?? '');
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
    if (!current || busy) return;
    if (selected < 0) {
      hint('Choose a label first: click or tap one, or press its number key. Then submit.');
      return;
    }
    busy = true;
    clearStatus();
    try {
      const label = categories[selected];
      const saved = await portal.call('POST', `/api/portal/jobs/${encodeURIComponent(job)}/items/${current.itemId}/label`, { label });
      mine = saved.mine;
      // The counts make every announcement new, so a screen reader speaks it even when the label is the same as the last.
      $('saved').textContent = `${saved.result === 'Changed' ? 'Changed to' : 'Saved as'} ${label}. ${mine.done} labeled, ${mine.left} left.`;
      if (back >= 0) {
        history[back].label = label;
        back++;
        if (back < history.length) { show(history[back]); return; }
        back = -1;
      } else {
        history.push({ ...current, label });
        queue = queue.filter(q => q.itemId !== current.itemId);
      }
      if (queue.length === 0) await fill();
      show(queue[0] ?? null);
      fill();
    } catch (e) {
      $('status').className = 'error';
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

  // Skip: a later look. Reviewing, it goes forward without changing the label; otherwise the image moves to the end of the queue.
  function skip() {
    if (busy || !current) return;
    clearStatus();
    if (back >= 0) {
      back++;
      if (back < history.length) { show(history[back]); return; }
      back = -1;
      show(queue[0] ?? null);
      return;
    }
    if (queue.length < 2) { hint('There is no other image to go to: this is the last one you have.'); return; }
    queue = queue.filter(q => q.itemId !== current.itemId);
    queue.push(current);
    show(queue[0]);
  }

  $('submit').addEventListener('click', () => submit());
  $('back').addEventListener('click', () => goBack());
  $('skip').addEventListener('click', () => skip());

  // The filter box: typing filters, Enter chooses the first label shown (and clears the filter), Escape clears it.
  $('filter').addEventListener('input', () => { filterLabels($('filter').value); render(); });
  $('filter').addEventListener('keydown', e => {
    e.stopPropagation(); // letters and digits are text here, not keys
    if (e.key === 'Enter') {
      e.preventDefault();
      const first = visible()[0];
      if (!first) return;
      $('filter').value = '';
      filterLabels('');
      choose(radios().indexOf(first), true);
    } else if (e.key === 'Escape') { $('filter').value = ''; filterLabels(''); render(); }
  });
  $('show-keys').addEventListener('click', () => openHelp());
  $('close-keys').addEventListener('click', () => closeHelp());
  // The keys list is modal: Escape closes it and focus stays inside until then (Tab cycles on its one button).
  $('keys-help').addEventListener('keydown', e => {
    e.stopPropagation();
    if (e.key === 'Escape') { e.preventDefault(); closeHelp(); }
    else if (e.key === 'Tab') { e.preventDefault(); $('close-keys').focus(); }
  });

  document.addEventListener('keydown', e => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === '?') { e.preventDefault(); openHelp(); return; }
    if (e.key === '/' && !$('filter').hidden) { e.preventDefault(); $('filter').focus(); return; }
    // A focused button or link does its own thing with Enter and Space.
    if ((e.key === 'Enter' || e.key === ' ') && (e.target instanceof HTMLButtonElement || e.target instanceof HTMLAnchorElement)) return;
    const keyed = e.key.length === 1 ? labelOfKey(e.key) : -1;
    if (keyed >= 0) {
      if (keyed < categories.length) choose(keyed, false);
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
