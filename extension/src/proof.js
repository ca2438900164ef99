/**
 * The companion's proof that it holds the pairing token: hex(HMAC-SHA256(token, "crumbs-proof:" + nonce)).
 *
 * Why: any local program could listen on the companion's port while it is down. Before the
 * extension sends the token (or anyone's browsing) to the port, the server must answer a fresh
 * challenge that only the real companion, which knows the token, can answer.
 * Uses WebCrypto, which both browsers and node provide as globalThis.crypto.
 */

/** A fresh random challenge: 32 hex characters (128 bits). */
export function newNonce(cryptoImpl = globalThis.crypto) {
  const bytes = new Uint8Array(16);
  cryptoImpl.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The proof expected for a token and a nonce, as lower-case hex. */
export async function expectedProof(token, nonce, cryptoImpl = globalThis.crypto) {
  const enc = new TextEncoder();
  const key = await cryptoImpl.subtle.importKey('raw', enc.encode(token), { name: 'HMAC', hash: 'SHA-256' },
    false, ['sign']);
  const sig = new Uint8Array(await cryptoImpl.subtle.sign('HMAC', key, enc.encode(`crumbs-proof:${nonce}`)));
  return [...sig].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Compare two hex strings without stopping at the first difference. */
export function sameProof(a, b) {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length !== b.length) return false;
  let diff = 0;
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  for (let i = 0; i < x.length; i += 1) diff |= x.charCodeAt(i) ^ y.charCodeAt(i);
  return diff === 0;
}
