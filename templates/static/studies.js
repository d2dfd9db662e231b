// The study list refreshes itself: every 5 s while a study is arriving (30 s otherwise) it
// asks GET /api/v1/studies with the page's filters and updates counts, sizes, times and
// the "arriving" badges in place; studies not on the page raise a "reload" notice.
// Polling stops while the tab is hidden and after 10 minutes without any user activity, so
// an unattended screen does not keep its session alive.
const root = document.getElementById('study-list');
const FAST_MS = 5000;
const SLOW_MS = 30000;
const IDLE_MS = 10 * 60 * 1000;

function humanSize(bytes) {
  const b = Math.max(0, bytes);
  if (b < 1024 * 1024) return `${Math.ceil(b / 1024)} KB`;
  if (b < 1024 * 1024 * 1024) return `${(b / (1024 * 1024)).toFixed(1)} MB`;
  return `${(b / (1024 * 1024 * 1024)).toFixed(2)} GB`;
}

// "2026-01-05T03:04:05" (UTC) -> "2026-01-05 12:04" (Japan time), as the server renders it.
function jst(utc) {
  const d = new Date(`${utc.slice(0, 19)}Z`);
  if (Number.isNaN(d.getTime())) return utc;
  const j = new Date(d.getTime() + 9 * 3600 * 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${j.getUTCFullYear()}-${p(j.getUTCMonth() + 1)}-${p(j.getUTCDate())} ${p(j.getUTCHours())}:${p(j.getUTCMinutes())}`;
}

function setText(row, field, text) {
  const el = row.querySelector(`[data-field="${field}"]`);
  if (el && el.textContent !== text) el.textContent = text;
}

function update(data) {
  let unseen = 0;
  for (const s of data.studies || []) {
    const row = root.querySelector(`tr[data-study-id="${Number(s.id)}"]`);
    if (!row) {
      unseen += 1;
      continue;
    }
    setText(row, 'num_series', String(s.num_series));
    setText(row, 'num_instances', String(s.num_instances));
    setText(row, 'size', humanSize(s.size_bytes));
    setText(row, 'received', jst(s.last_received_at));
    row.dataset.arriving = String(Boolean(s.arriving));
    const badge = row.querySelector('[data-field="arriving"]');
    if (badge) badge.hidden = !s.arriving;
  }
  const total = root.querySelector('[data-field="total"]');
  const changed = total && total.textContent !== String(data.total);
  if (total) total.textContent = String(data.total);
  const notice = root.querySelector('[data-testid="study-new"]');
  if (notice && (unseen > 0 || changed)) notice.hidden = false;
}

if (root && root.dataset.api) {
  let lastActivity = Date.now();
  for (const ev of ['pointerdown', 'pointermove', 'keydown', 'scroll', 'touchstart']) {
    window.addEventListener(ev, () => { lastActivity = Date.now(); }, { passive: true });
  }
  const arriving = () => root.querySelector('tr[data-arriving="true"]') !== null;
  let stopped = false;

  async function poll() {
    if (document.visibilityState === 'visible' && Date.now() - lastActivity < IDLE_MS) {
      try {
        const res = await fetch(root.dataset.api, {
          credentials: 'same-origin',
          headers: { Accept: 'application/json' },
          redirect: 'manual',
          cache: 'no-store',
        });
        if (res.ok) {
          update(await res.json());
        } else if (res.status === 401 || res.status === 404 || res.type === 'opaqueredirect') {
          stopped = true; // signed out or no longer allowed
        }
      } catch {
        // offline for a moment: try again next time
      }
    }
    if (!stopped) setTimeout(poll, arriving() ? FAST_MS : SLOW_MS);
  }
  setTimeout(poll, arriving() ? FAST_MS : SLOW_MS);
}
