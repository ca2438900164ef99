/**
 * The one script of the popup the extension's worker serves drawn (src/popupserve.js): it loads popup.js
 * once the page is on screen, and keeps the clicks made before popup.js took the page over.
 *
 * Why: the browser shows an extension's popup only when the popup's document has loaded, and every script
 * file the document names is part of that load (popup.js and the two modules it imports: about 20 ms on
 * this machine, bench/bench_popup.py "toolbar popup"). The served page needs none of them to be seen, so
 * it names only this small file, which is not a module and imports nothing, and popup.js is asked for
 * after the first frame that follows the load. A person can already click in that frame: the click is
 * kept here (the button it was on) and popup.js clicks that button again once its own handlers are on
 * (`takeOver`), so no choice made in the first instants is lost.
 *
 * A classic script, so that it runs in the page's own scope: popup.js finds what it kept on `self.crumbsBoot`.
 */
(() => {
  const kept = [];
  let taken = false;
  const keep = (event) => {
    if (taken) return;
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    if (!button) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (!kept.includes(button)) kept.push(button);
  };
  document.addEventListener('click', keep, true);

  self.crumbsBoot = {
    /** Called by popup.js once its handlers are on: its own from then on, and the kept clicks again. */
    takeOver() {
      taken = true;
      document.removeEventListener('click', keep, true);
      for (const button of kept.splice(0)) if (button.isConnected) button.click();
    },
  };

  let asked = false;
  const load = () => {
    if (asked) return;
    asked = true;
    const script = document.createElement('script');
    script.type = 'module';
    script.src = 'popup.js';
    document.head.append(script);
  };
  const afterFirstFrame = () => {
    requestAnimationFrame(() => setTimeout(load, 0));
    setTimeout(load, 200); // no frames come while the page is hidden
  };
  if (document.readyState === 'complete') afterFirstFrame();
  else addEventListener('load', afterFirstFrame, { once: true });
})();
