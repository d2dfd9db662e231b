// Key images (キー画像) of the study, the caller's facility's own: listed, marked and unmarked
// through /studies/{id}/key-images (POST and DELETE carry the session's CSRF token).

export class KeyImages {
  /**
   * @param {string} url `/studies/{id}/key-images`
   * @param {string} csrf the page's CSRF token
   * @param {HTMLElement} aside the `.vw-keys` element
   * @param {(k: object) => void} onJump called when an entry of the strip is chosen
   */
  constructor(url, csrf, aside, onJump) {
    this.url = url;
    this.csrf = csrf;
    this.list = aside.querySelector('[data-testid="key-list"]');
    this.empty = aside.querySelector('[data-field="keys-empty"]');
    this.error = aside.querySelector('[data-field="keys-error"]');
    this.onJump = onJump;
    this.items = [];
    this.seriesNumbers = new Map();
  }

  key(sop, frame) {
    return `${sop}|${frame}`;
  }

  has(sop, frame) {
    return this.items.some((k) => this.key(k.sop_instance_uid, k.frame) === this.key(sop, frame));
  }

  async load() {
    const r = await fetch(this.url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    if (!r.ok) throw new Error(`key images: HTTP ${r.status}`);
    this.items = (await r.json()).key_images;
    this.render();
  }

  async toggle(sop, frame) {
    const marked = this.has(sop, frame);
    this.error.hidden = true;
    const r = await fetch(this.url, {
      method: marked ? 'DELETE' : 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': this.csrf, Accept: 'application/json' },
      body: JSON.stringify({ sop_instance_uid: sop, frame }),
    });
    if (!r.ok) {
      this.error.hidden = false;
      throw new Error(`key image: HTTP ${r.status}`);
    }
    await this.load();
    return !marked;
  }

  render() {
    this.list.replaceChildren();
    this.empty.hidden = this.items.length > 0;
    for (const k of this.items) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.sop = k.sop_instance_uid;
      b.dataset.frame = String(k.frame);
      const se = this.seriesNumbers.get(k.series_uid);
      const parts = [];
      if (se != null) parts.push(`Se ${se}`);
      parts.push(`Im ${k.instance_number ?? '—'}`);
      if (k.frame > 1) parts.push(`F ${k.frame}`);
      b.textContent = `★ ${parts.join(' · ')}`;
      b.addEventListener('click', () => this.onJump(k));
      li.append(b);
      this.list.append(li);
    }
  }
}
