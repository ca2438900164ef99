/**
 * Global Privacy Control: tell every site the person does not want their data sold or shared.
 *
 * Two halves, both switched by one setting (storage.local `gpc`, on unless set to false):
 * - the `Sec-GPC: 1` request header, from the static declarativeNetRequest ruleset `gpc`
 *   (rules/gpc.json, switched with updateEnabledRulesets). It is a static ruleset, not a dynamic
 *   rule, because the dynamic rules are the companion's and RuleSync removes any it did not send.
 *   Its priority (10000) is above every allow rule, trust's allowAllRequests included, so a trusted
 *   site gets what the setting says, like any other;
 * - `navigator.globalPrivacyControl === true`, from content/gpc-main.js, registered with
 *   chrome.scripting in the page's MAIN world at document_start while the setting is on.
 *
 * No `chrome` at module level: the APIs are passed in, so node tests drive it with fakes.
 */

export const GPC_KEY = 'gpc';
export const GPC_RULESET = 'gpc';
export const GPC_SCRIPT_ID = 'crumbs-gpc';

/** The content script registration for the navigator flag. */
export function gpcScript() {
  return {
    id: GPC_SCRIPT_ID,
    js: ['content/gpc-main.js'],
    matches: ['<all_urls>'],
    runAt: 'document_start',
    allFrames: true,
    world: 'MAIN',
    persistAcrossSessions: true,
  };
}

/** The setting's value from a storage.local answer: on unless explicitly false. */
export function gpcEnabled(stored) {
  return !(stored && stored[GPC_KEY] === false);
}

/**
 * Bring the browser in line with the setting; only what differs is changed, so calling it on every
 * start is cheap. Returns what it did, for tests and logs: {header, script} each 'on'|'off'|'kept'.
 * @param {{dnr: {getEnabledRulesets: Function, updateEnabledRulesets: Function},
 *   scripting: {getRegisteredContentScripts: Function, registerContentScripts: Function,
 *   unregisterContentScripts: Function}}} apis
 * @param {boolean} enabled
 */
export async function applyGpc({ dnr, scripting }, enabled) {
  const done = { header: 'kept', script: 'kept' };
  const rulesets = await dnr.getEnabledRulesets();
  const headerOn = rulesets.includes(GPC_RULESET);
  if (enabled && !headerOn) {
    await dnr.updateEnabledRulesets({ enableRulesetIds: [GPC_RULESET] });
    done.header = 'on';
  } else if (!enabled && headerOn) {
    await dnr.updateEnabledRulesets({ disableRulesetIds: [GPC_RULESET] });
    done.header = 'off';
  }
  const registered = await scripting.getRegisteredContentScripts({ ids: [GPC_SCRIPT_ID] });
  const scriptOn = registered.some((s) => s.id === GPC_SCRIPT_ID);
  if (enabled && !scriptOn) {
    await scripting.registerContentScripts([gpcScript()]);
    done.script = 'on';
  } else if (!enabled && scriptOn) {
    await scripting.unregisterContentScripts({ ids: [GPC_SCRIPT_ID] });
    done.script = 'off';
  }
  return done;
}

/**
 * Wire GPC into the background: apply the stored setting now and whenever it changes.
 * Registers its storage listener synchronously (MV3 workers restart at any time).
 * Returns {ready, sync}: the first application, and a way to apply again (and wait for it).
 * @param {{chrome: typeof chrome, onError?: (err: Error) => void}} opts
 */
export function startGpc({ chrome: api, onError = () => {} }) {
  const apis = { dnr: api.declarativeNetRequest, scripting: api.scripting };
  let queue = Promise.resolve();
  const sync = () => {
    // One at a time: two quick toggles must not interleave their register/unregister calls.
    queue = queue.then(async () => applyGpc(apis, gpcEnabled(await api.storage.local.get(GPC_KEY))))
      .catch((err) => { onError(err); return null; });
    return queue;
  };
  api.storage.onChanged.addListener((changes, area) => {
    if (area === 'local' && GPC_KEY in changes) sync();
  });
  return { ready: sync(), sync };
}
