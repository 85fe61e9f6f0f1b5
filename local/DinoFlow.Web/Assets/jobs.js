// The jobs page: every job with its progress per job and per worker, links to label and export; admins also get
// the dashboard link and a form that creates a job over the ingested images.
'use strict';
async function showJobs(admin, user) {
  const jobs = await portal.call('GET', '/api/portal/jobs');
  const list = document.getElementById('list');
  list.textContent = jobs.length === 0
    ? (admin ? 'No labeling jobs yet. Create one above, or with: dinoflow portal job create NAME' : 'No labeling jobs yet.') : '';
  for (const job of jobs) {
    const p = job.progress;
    const h = portal.text('h2', job.name + (p.complete ? ' (complete)' : ''));
    const check = p.model ? `; model check ${p.model.agreed}/${p.model.checked}, auto-labeling ${p.model.active ? 'on' : 'off'}` : '';
    // What the counts mean: an image is finished once it has all its annotators, so "labeled by you" runs ahead of it.
    const byMe = p.workers.find(w => w.worker === user)?.submitted ?? 0;
    const needs = job.annotatorsPerImage === 1 ? 'each image needs 1 annotator' : `each image needs ${job.annotatorsPerImage} annotators`;
    const summary = portal.text('p', `${byMe} labeled by you · ${p.completed}/${p.items} finished: ${needs}`, 'counts');
    const details = portal.text('p', `${p.completed}/${p.items} images done, ${p.autoLabeled} auto-labeled, ${p.labelsSubmitted}/${p.labelsNeeded} labels${check}`, 'details');
    const actions = document.createElement('p');
    const label = portal.text('a', 'Label'); label.href = '/label/' + encodeURIComponent(job.name);
    const exp = portal.text('a', 'Export output manifest'); exp.href = `/api/portal/jobs/${encodeURIComponent(job.name)}/output.manifest`;
    actions.append(label);
    if (admin) actions.append(' · ', exp); // every worker's labels: admins only
    const table = document.createElement('table');
    table.append(Object.assign(document.createElement('tr'), { innerHTML: '<th>worker</th><th>labeled</th><th>open</th><th>agreement</th>' }));
    for (const w of p.workers) {
      const row = document.createElement('tr');
      row.append(portal.text('td', w.worker), portal.text('td', String(w.submitted)), portal.text('td', String(w.open)),
        portal.text('td', w.agreementRate === null ? '–' : `${Math.round(w.agreementRate * 100)}% of ${w.compared}`));
      table.append(row);
    }
    list.append(h, summary, details, actions, table);
  }
}

(async () => {
  const session = await portal.session();
  document.getElementById('user').textContent = session.user;
  document.getElementById('logout').addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', headers: { 'X-CSRF-TOKEN': portal.csrf } });
    location.href = '/login';
  });
  if (session.admin) {
    document.getElementById('dashboard').hidden = false;
    const form = document.getElementById('create');
    const status = document.getElementById('create-status');
    form.hidden = false;
    form.addEventListener('submit', async event => {
      event.preventDefault();
      const data = new FormData(form);
      const labels = String(data.get('labels')).split(',').map(l => l.trim()).filter(l => l.length > 0);
      status.className = '';
      status.textContent = 'Creating…';
      try {
        const job = await portal.call('POST', '/api/portal/jobs', {
          name: String(data.get('name')).trim(), labels, instructions: String(data.get('instructions')), annotators: Number(data.get('annotators')),
        });
        status.textContent = `Job ${job.name} created with ${job.progress.items} images.`;
        form.reset();
        await showJobs(true, session.user);
      } catch (e) {
        status.className = 'error';
        let message = e.message;
        try { message = JSON.parse(message).detail || message; } catch { /* plain text */ }
        status.textContent = message;
      }
    });
  }
  await showJobs(session.admin, session.user);
  document.body.dataset.ready = 'true'; // for tests and scripts: the page is usable
})();
