/**
 * The one script of the popup the extension's worker serves drawn (src/popupserve.js): it loads popup.js
 * once the page is on screen, and keeps the clicks made before popup.js took the page over.
 *
 * Why: the browser shows an extension's popup only when the popup's document has loaded, and every script
 * file the document names is part of that load (popup.js and the two modules it imports: 10-20 ms on this
 * machine, bench/bench_popup.py "toolbar popup"). The served page needs none of them to be seen, so it
 * names only this small file, which is not a module and imports nothing, and popup.js is asked for after
 * the first frame that follows the load. A person can already click in that frame: the click is kept here
 * (the button it was on; for a tracker's row, only the last of its buttons) and popup.js clicks that button
 * again once its own handlers are on (`takeOver`), so no choice made in the first instants is lost. It
 * drops them instead when it draws another tab than the one served, and if popup.js cannot be loaded the
 * buttons are let go rather than kept from the person.
 *
 * A classic script, so that it runs in the page's own scope: popup.js finds what it kept on `self.crumbsBoot`.
 */
(() => {
  let kept = [];
  let taken = false;
  const keep = (event) => {
    if (taken) return;
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    if (!button) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    // One choice per row: the last button clicked on it (a tracker's row has four).
    const row = button.closest('[data-domain]');
    kept = kept.filter((b) => b !== button && !(row && b.closest('[data-domain]') === row));
    kept.push(button);
  };
  document.addEventListener('click', keep, true);

  const release = () => {
    taken = true;
    document.removeEventListener('click', keep, true);
    const out = kept;
    kept = [];
    return out;
  };

  self.crumbsBoot = {
    /** Called by popup.js once its handlers are on: its own from then on; the kept clicks made again when
     * `replay`, on the buttons still shown. */
    takeOver(replay) {
      if (taken) return;
      for (const button of release()) {
        if (replay && button.isConnected && button.checkVisibility()) button.click();
      }
    },
  };

  let asked = false;
  const load = () => {
    if (asked) return;
    asked = true;
    const script = document.createElement('script');
    script.type = 'module';
    script.src = 'popup.js';
    script.addEventListener('error', release);
    document.head.append(script);
  };
  const afterFirstFrame = () => {
    requestAnimationFrame(() => setTimeout(load, 0));
    setTimeout(load, 200); // no frames come while the page is hidden
  };
  if (document.readyState === 'complete') afterFirstFrame();
  else addEventListener('load', afterFirstFrame, { once: true });
})();
