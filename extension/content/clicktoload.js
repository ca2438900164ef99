/**
 * Click-to-load placeholders, in the frame that held a blocked embed.
 *
 * Injected by the background (src/clicktoload.js) only into a frame where it saw a catalog embed
 * blocked; it is not in the manifest and runs on no other page. In the extension's isolated world:
 * the page cannot call it. It puts a placeholder where the embed was (same size, in a shadow root so
 * the page's styles do not reach it; every word set with textContent; no remote resources: no images,
 * fonts or style sheets, only inline styles), and on a real click (event.isTrusted: a page cannot
 * click for the person) asks the background over a port to load it now or to allow it on this site.
 * A classic script, since scripting.executeScript injects files as such; injected twice is harmless.
 */
(() => {
  if (globalThis.crumbsClickToLoad) return;
  const api = globalThis.browser || globalThis.chrome;
  const MARK = 'data-crumbs-ctl';
  const handled = new WeakSet();
  const pending = new Map(); // url -> embed waiting for its element (created after the request failed)

  const css = (el, styles) => { Object.assign(el.style, styles); return el; };

  function make(tag, text, styles) {
    const el = document.createElement(tag);
    if (text) el.textContent = text;
    if (styles) css(el, styles);
    return el;
  }

  function button(text, primary) {
    const b = make('button', text, {
      font: 'inherit', fontSize: '14px', cursor: 'pointer', borderRadius: '6px', padding: '6px 12px', margin: '4px 6px 0 0',
      border: '1px solid #8a93a3', background: primary ? '#2c5cc5' : '#ffffff', color: primary ? '#ffffff' : '#1d2330',
      fontWeight: primary ? '600' : '400', whiteSpace: 'normal',
    });
    b.type = 'button';
    return b;
  }

  /** Ask the background; resolves with its answer ({ok} or {error}). */
  function ask(message) {
    return new Promise((resolve) => {
      let port;
      try {
        port = api.runtime.connect({ name: 'crumbs-clicktoload' });
      } catch (err) {
        resolve({ error: 'Crumbs is not running in this browser right now.' });
        return;
      }
      port.onMessage.addListener((answer) => { resolve(answer || {}); port.disconnect(); });
      port.onDisconnect.addListener(() => resolve({ error: 'Crumbs did not answer.' }));
      port.postMessage(message);
    });
  }

  /** The placeholder element for one embed; onDone(holder) runs once the background let it through. */
  function placeholder(item, size, onDone) {
    // A frame's placeholder keeps the frame's box (the page's layout counts on it); a widget's takes the
    // embed's usual width and the height its words need, since the widget would have replaced its container.
    const holder = make('div', null, {
      display: 'block', boxSizing: 'border-box', width: `${size.width}px`, maxWidth: '100%',
      height: item.as === 'frame' ? `${size.height}px` : 'auto', margin: '0', padding: '0', overflow: 'auto',
    });
    holder.setAttribute(MARK, item.info.id);
    const root = holder.attachShadow({ mode: 'open' });
    const box = make('div', null, {
      boxSizing: 'border-box', width: '100%', minHeight: '100%', padding: '16px', display: 'flex', flexDirection: 'column',
      justifyContent: 'center', gap: '6px', background: '#f3f4f7', color: '#1d2330', border: '1px solid #cfd4dc',
      borderRadius: '8px', font: '14px/1.45 system-ui, sans-serif', textAlign: 'left',
    });
    box.setAttribute('role', 'region');
    box.setAttribute('aria-label', item.text.title);
    const title = make('strong', item.text.title, { fontSize: '15px' });
    const body = make('p', item.text.body, { margin: '0' });
    const row = make('div', null, { display: 'flex', flexWrap: 'wrap' });
    const load = button(item.text.load, true);
    const allow = button(item.text.allow, false);
    const status = make('p', '', { margin: '0', color: '#a12c2c', fontSize: '13px' });
    status.setAttribute('role', 'status');
    row.append(load, allow);
    box.append(title, body, row, status);
    root.append(box);

    const act = async (op, ev) => {
      if (!ev.isTrusted) return; // only the person's own click loads anything
      load.disabled = true;
      allow.disabled = true;
      status.textContent = '';
      const answer = await ask({ op, url: item.url, as: item.as });
      if (answer && answer.ok) { onDone(holder); return; }
      status.textContent = (answer && answer.error) || 'Crumbs could not load it.';
      load.disabled = false;
      allow.disabled = false;
    };
    load.addEventListener('click', (ev) => act('load', ev));
    allow.addEventListener('click', (ev) => act('allow-site', ev));
    return holder;
  }

  function sizeSeen(el) {
    const rect = el.getBoundingClientRect();
    return { attrWidth: el.getAttribute('width'), attrHeight: el.getAttribute('height'),
      boxWidth: rect.width, boxHeight: rect.height };
  }

  function sameUrl(a, b) {
    try { return new URL(a, location.href).href === new URL(b, location.href).href; } catch { return false; }
  }

  /** A blocked frame: the placeholder takes the <iframe>'s place; loading puts a fresh copy back. */
  function showFrame(item) {
    const frames = [...document.querySelectorAll('iframe')].filter((f) => !handled.has(f) && sameUrl(f.src, item.url));
    for (const frame of frames) {
      handled.add(frame);
      const holder = placeholder(item, item.size(sizeSeen(frame)), (h) => {
        const fresh = frame.cloneNode(true); // a new element loads its src again
        handled.add(fresh);
        h.replaceWith(fresh);
      });
      frame.replaceWith(holder);
    }
    return frames.length;
  }

  /** A blocked widget script: a placeholder before each of its containers, which stay hidden until loaded. */
  function showScript(item) {
    const containers = [...document.querySelectorAll(item.info.containers.join(','))].filter((c) => !handled.has(c));
    const placed = [];
    for (const el of containers) {
      handled.add(el);
      const display = el.style.display;
      const holder = placeholder(item, item.size({}), () => {
        for (const p of placed) { p.holder.remove(); p.el.style.display = p.display; }
        ask({ op: 'run-script', url: item.url, as: item.as });
      });
      placed.push({ el, holder, display });
      el.before(holder);
      el.style.display = 'none';
    }
    return containers.length;
  }

  function show(item) {
    return item.as === 'frame' ? showFrame(item) : showScript(item);
  }

  // Frames added to the page after their request already failed (rare, but scripts do it).
  const observer = new MutationObserver(() => {
    for (const [url, item] of pending) if (show(item)) pending.delete(url);
    if (!pending.size) observer.disconnect();
  });

  globalThis.crumbsClickToLoad = {
    /**
     * Show placeholders for one blocked embed.
     * @param {{url: string, as: 'frame'|'script', info: object, text: object, size: object}} data
     *   text: the words (src/embeds.js placeholderText); size: the fallback [w, h].
     * @returns {number} how many placeholders were put in
     */
    show(data) {
      const fallback = data.size;
      const item = { ...data, size: (seen) => placeholderSize(seen, fallback) };
      const n = show(item);
      if (!n && !pending.has(item.url)) {
        pending.set(item.url, item);
        observer.observe(document.documentElement, { childList: true, subtree: true });
        setTimeout(() => { pending.delete(item.url); if (!pending.size) observer.disconnect(); }, 10_000);
      }
      return n;
    },
  };

  // The same rule as src/embeds.js placeholderSize (a classic script cannot import it): attributes,
  // else the laid-out box (Chromium collapses a blocked frame to 0x0), else the embed's usual size.
  function placeholderSize(seen, fallback) {
    const px = (v) => {
      const n = Number.parseFloat(String(v ?? ''));
      return Number.isFinite(n) && n >= 40 && n <= 4000 && /^\s*\d+(\.\d+)?\s*(px)?\s*$/.test(String(v)) ? Math.round(n) : null;
    };
    const box = (n) => (Number.isFinite(n) && n >= 40 ? Math.round(n) : null);
    return { width: px(seen.attrWidth) || box(seen.boxWidth) || fallback[0],
      height: px(seen.attrHeight) || box(seen.boxHeight) || fallback[1] };
  }
})();
