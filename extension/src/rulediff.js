/**
 * The smallest updateDynamicRules call that turns the browser's current rules into the wanted ones.
 *
 * Why: replacing all rules on every change would briefly drop blocking and costs the browser a full
 * re-index; a diff touches only rules whose id is new, gone or changed.
 */

/** A canonical text of a JSON value (object keys sorted), so equal rules compare equal. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * @param {Array<{id: number}>} current the rules the browser has (getDynamicRules)
 * @param {Array<{id: number}>} wanted the rules the companion compiled
 * @returns {{removeRuleIds: number[], addRules: object[]}} arguments for updateDynamicRules
 */
export function diffRules(current, wanted) {
  const have = new Map(current.map((r) => [r.id, canonical(r)]));
  const want = new Map(wanted.map((r) => [r.id, r]));
  if (want.size !== wanted.length) throw new Error('duplicate rule ids');
  const removeRuleIds = [];
  const addRules = [];
  for (const [id, text] of have) {
    const w = want.get(id);
    if (!w || canonical(w) !== text) removeRuleIds.push(id);
  }
  for (const [id, rule] of want) {
    if (have.get(id) !== canonical(rule)) addRules.push(rule);
  }
  removeRuleIds.sort((a, b) => a - b);
  return { removeRuleIds, addRules };
}
