// Browser upload: sends each DICOM file of a chosen folder (and each chosen zip) to
// POST /studies/upload, three at a time, with the session's CSRF token; shows a progress
// bar, one line per file (or zip entry) and a summary. Files without the DICM magic at
// offset 128 are left out quietly (DICOMDIR has it and is sent; the server refuses it).
const form = document.getElementById('upload-form');
const PARALLEL = 3;

function csrfToken() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.getAttribute('content') : '';
}

async function isDicom(file) {
  if (file.size < 132) return false;
  const magic = new Uint8Array(await file.slice(128, 132).arrayBuffer());
  return String.fromCharCode(...magic) === 'DICM';
}

function isZip(file) {
  return /\.zip$/i.test(file.name) || file.type === 'application/zip' || file.type === 'application/x-zip-compressed';
}

if (form) {
  const msg = (k) => form.dataset[`msg${k}`] || k;
  const folder = form.querySelector('input[name="folder"]');
  const zips = form.querySelector('input[name="zips"]');
  const button = form.querySelector('button[type="submit"]');
  const progress = form.querySelector('[data-testid="upload-progress"]');
  const summaryEl = form.querySelector('[data-testid="upload-summary"]');
  const list = form.querySelector('[data-testid="upload-results"]');
  const maxBytes = Number(form.dataset.maxBytes) || Infinity;

  const totals = { stored: 0, duplicates: 0, refused: 0, skipped: 0 };
  const labels = { stored: msg('Stored'), duplicate: msg('Duplicate'), refused: msg('Refused') };

  function line(name, status, reason) {
    const li = document.createElement('li');
    li.className = status;
    li.dataset.status = status;
    const st = document.createElement('span');
    st.className = 'st';
    st.textContent = labels[status] || status;
    li.append(st, ' ', name);
    if (reason) li.append(` — ${reason}`);
    list.append(li);
  }

  function showSummary(done) {
    summaryEl.textContent = msg('Summary')
      .replace('{stored}', totals.stored)
      .replace('{duplicates}', totals.duplicates)
      .replace('{refused}', totals.refused)
      .replace('{skipped}', totals.skipped);
    for (const [k, v] of Object.entries(totals)) summaryEl.dataset[k] = String(v);
    summaryEl.dataset.done = String(done);
  }

  async function send(file, kind, name) {
    if (file.size > maxBytes) {
      totals.refused += 1;
      line(name, 'refused', msg('TooLarge'));
      return;
    }
    let res;
    try {
      res = await fetch('/studies/upload', {
        method: 'POST',
        body: file,
        credentials: 'same-origin',
        redirect: 'manual',
        headers: {
          'Content-Type': kind,
          'X-CSRF-Token': csrfToken(),
          'X-File-Name': encodeURIComponent(name),
        },
      });
    } catch {
      totals.refused += 1;
      line(name, 'refused', msg('Failed'));
      return;
    }
    const json = (res.headers.get('content-type') || '').includes('application/json')
      ? await res.json().catch(() => null)
      : null;
    if (res.ok && json && Array.isArray(json.results)) {
      totals.stored += json.stored || 0;
      totals.duplicates += json.duplicates || 0;
      totals.refused += json.refused || 0;
      totals.skipped += json.skipped || 0;
      for (const r of json.results) {
        const label = kind === 'application/zip' ? `${name} › ${r.name}` : name;
        line(label, r.status, r.reason || '');
      }
      return;
    }
    totals.refused += 1;
    let reason = msg('Failed');
    if (res.type === 'opaqueredirect' || res.status === 401 || res.status === 403) reason = msg('Session');
    else if (res.status === 413) reason = msg('TooLarge');
    else if (json && json.message) reason = json.message;
    line(name, 'refused', reason);
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    list.replaceChildren();
    for (const k of Object.keys(totals)) totals[k] = 0;
    summaryEl.textContent = msg('Busy');
    delete summaryEl.dataset.done;

    const jobs = [];
    for (const f of folder.files) {
      const name = f.webkitRelativePath || f.name;
      if (isZip(f)) jobs.push({ file: f, kind: 'application/zip', name });
      else if (await isDicom(f)) jobs.push({ file: f, kind: 'application/dicom', name });
      else totals.skipped += 1;
    }
    for (const f of zips.files) jobs.push({ file: f, kind: 'application/zip', name: f.name });

    if (jobs.length === 0) {
      summaryEl.textContent = msg('None');
      button.disabled = false;
      return;
    }
    const totalBytes = jobs.reduce((n, j) => n + j.file.size, 0) || 1;
    let doneBytes = 0;
    progress.max = totalBytes;
    progress.value = 0;
    progress.hidden = false;

    let next = 0;
    async function worker() {
      while (next < jobs.length) {
        const job = jobs[next];
        next += 1;
        await send(job.file, job.kind, job.name);
        doneBytes += job.file.size;
        progress.value = doneBytes;
      }
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL, jobs.length) }, worker));
    progress.value = totalBytes;
    showSummary(true);
    button.disabled = false;
    folder.value = '';
    zips.value = '';
  });
}
