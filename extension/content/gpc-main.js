/**
 * Global Privacy Control in page script: `navigator.globalPrivacyControl === true`.
 *
 * Runs in the page's own (MAIN) world at document_start, registered by src/gpc.js only while the
 * setting is on, so the page's first script already reads it. It defines a getter on
 * Navigator.prototype (where the standard puts the attribute, and where Firefox has its own
 * `false` one), shaped like a native attribute: configurable, enumerable, no setter.
 * It reads nothing and talks to nothing.
 */
(() => {
  try {
    Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {
      get() { return true; },
      configurable: true,
      enumerable: true,
    });
  } catch {
    // A page that froze Navigator.prototype before us: nothing more we can do here.
  }
})();
