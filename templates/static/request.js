// The request form keeps its dropdown of reading facilities current: when urgency,
// category, modality, body parts or priors change, it asks POST /api/v1/requests/quote (the
// session and the page's CSRF token) and rewrites each facility's price, backlog and due
// time — or the list itself, e.g. facilities that take no emergencies now drop out. Without
// scripts the form's "update prices" button does the same through the server.
const form = document.querySelector('form[data-testid="request-form"]');
const select = document.getElementById('supporting_facility_id');

function jst(utc) {
  const d = new Date(`${String(utc).slice(0, 19)}Z`);
  if (Number.isNaN(d.getTime())) return String(utc);
  const j = new Date(d.getTime() + 9 * 3600 * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${j.getUTCFullYear()}-${p(j.getUTCMonth() + 1)}-${p(j.getUTCDate())} ${p(j.getUTCHours())}:${p(j.getUTCMinutes())}`;
}

function yen(v) {
  return String(Math.trunc(Number(v))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function label(o, words) {
  const tax = o.quote.tax_included ? words.taxIncluded : words.taxExcluded;
  return `${o.name} — ${yen(o.quote.total)}${words.yen}（${tax}）· ${words.backlog} ${o.backlog} · ${words.due} ${jst(o.due_at)}`;
}

function body() {
  const fd = new FormData(form);
  const all = (k) => fd.getAll(k).map(String).filter((v) => v !== '');
  return {
    study_id: Number(form.dataset.studyId),
    urgency: String(fd.get('urgency') || ''),
    category: String(fd.get('category') || ''),
    modality: String(fd.get('modality') || ''),
    body_parts: all('body_parts'),
    priors: all('priors').map(Number),
  };
}

let pending = null;
async function refresh() {
  if (pending) pending.abort();
  pending = new AbortController();
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || '';
  let data;
  try {
    const res = await fetch('/api/v1/requests/quote', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify(body()),
      signal: pending.signal,
    });
    if (!res.ok) return; // the server-side button still works
    data = await res.json();
  } catch {
    return;
  }
  const words = select.dataset;
  const chosen = select.value;
  for (const opt of [...select.options]) {
    if (opt.value !== 'auto') opt.remove();
  }
  for (const o of data.options || []) {
    const opt = new Option(label(o, words), String(o.facility_id));
    opt.selected = String(o.facility_id) === chosen;
    select.add(opt);
  }
  const none = document.querySelector('[data-testid="no-targets"]');
  if (none) none.hidden = (data.options || []).length > 0;
  select.dispatchEvent(new CustomEvent('enkaku:quoted', { bubbles: true }));
}

if (form && select) {
  for (const name of ['urgency', 'category', 'modality', 'body_parts', 'priors']) {
    for (const el of form.querySelectorAll(`[name="${name}"]`)) {
      el.addEventListener('change', refresh);
    }
  }
}
