/**
 * The companion's proof that it holds the pairing token, bound to the address the extension dialled:
 * hex(HMAC-SHA256(token, "crumbs-proof-v2\n" + nonce + "\n" + host + "\n" + origin)).
 *
 * Why: any local program could listen on the companion's port while it is down. Before the
 * extension sends the token (or anyone's browsing) to the port, the server must answer a fresh
 * challenge that only the real companion, which knows the token, can answer. The host (e.g.
 * "127.0.0.1:8737") is in the proof because a squatter could otherwise relay the challenge to the
 * real companion listening on another port and hand its answer back: the companion only answers
 * for its own Host, so the relayed proof names the wrong port. The origin is the Origin header the
 * browser attached ('' when it attached none). Mirrors companion/auth.py's proof().
 * Uses WebCrypto, which both browsers and node provide as globalThis.crypto.
 */

/** A fresh random challenge: 32 hex characters (128 bits). */
export function newNonce(cryptoImpl = globalThis.crypto) {
  const bytes = new Uint8Array(16);
  cryptoImpl.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The proof expected for a token, a nonce, the host dialled ("127.0.0.1:8737") and an origin, as lower-case hex. */
export async function expectedProof(token, nonce, host, origin = '', cryptoImpl = globalThis.crypto) {
  if (typeof host !== 'string' || !host) throw new TypeError('expectedProof needs the host that was dialled');
  const enc = new TextEncoder();
  const key = await cryptoImpl.subtle.importKey('raw', enc.encode(token), { name: 'HMAC', hash: 'SHA-256' },
    false, ['sign']);
  const message = ['crumbs-proof-v2', nonce, host.toLowerCase(), origin].join('\n');
  const sig = new Uint8Array(await cryptoImpl.subtle.sign('HMAC', key, enc.encode(message)));
  return [...sig].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The host part of a base URL as the browser puts it in the Host header ("127.0.0.1:8737", "[::1]:8737"). */
export function dialledHost(base) {
  return new URL(base).host;
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
