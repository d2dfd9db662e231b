// The worklist: every countdown ticks each second (an emergency counts to its 30-minute
// start target, anything else to its due time), and the list's table body is fetched again
// from /worklist/rows every 15 seconds, with the same filters, without reloading the page.
const overdueClass = 'overdue';

function clock(ms) {
  const a = Math.abs(Math.trunc(ms / 1000));
  const h = Math.floor(a / 3600);
  const m = String(Math.floor((a % 3600) / 60)).padStart(2, '0');
  const s = String(a % 60).padStart(2, '0');
  const sign = ms < 0 ? '-' : '';
  return h > 0 ? `${sign}${h}:${m}:${s}` : `${sign}${m}:${s}`;
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('.countdown[data-deadline]')) {
    const left = Number(el.dataset.deadline) - now;
    if (Number.isNaN(left)) continue;
    el.textContent = clock(left);
    el.classList.toggle(overdueClass, left < 0);
  }
}

async function refresh(table, body) {
  try {
    const res = await fetch(table.dataset.rows, {
      credentials: 'same-origin',
      headers: { Accept: 'text/html' },
    });
    if (!res.ok) return;
    body.innerHTML = await res.text();
    tick();
  } catch (_) {
    // Offline for a moment: the next refresh tries again.
  }
}

tick();
setInterval(tick, 1000);
const table = document.getElementById('worklist');
const body = document.getElementById('worklist-rows');
if (table && body && table.dataset.rows) {
  setInterval(() => refresh(table, body), 15000);
}
