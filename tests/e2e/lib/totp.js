// RFC 6238 TOTP codes (HMAC-SHA-1, 30 s steps) from a base32 secret, as an
// authenticator app computes them. Only node:crypto; no dependencies.
import { createHmac } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * Decode RFC 4648 base32 (case-insensitive; spaces, dashes and `=` padding ignored).
 * @param {string} text
 * @returns {Buffer}
 */
export function base32Decode(text) {
  const clean = text.toUpperCase().replace(/[\s=-]/g, '');
  const out = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    const idx = ALPHABET.indexOf(ch);
    if (idx < 0) throw new Error(`invalid base32 character ${JSON.stringify(ch)}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/**
 * Encode bytes as unpadded RFC 4648 base32.
 * @param {Buffer | Uint8Array | string} data
 * @returns {string}
 */
export function base32Encode(data) {
  const bytes = Buffer.from(data);
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(value >>> bits) & 31];
    }
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/**
 * HOTP (RFC 4226) over a raw key.
 * @param {Buffer} key
 * @param {number} counter
 * @param {number} digits
 * @returns {string}
 */
export function hotp(key, counter, digits = 6) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(msg).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin =
    ((mac[offset] & 0x7f) << 24) |
    (mac[offset + 1] << 16) |
    (mac[offset + 2] << 8) |
    mac[offset + 3];
  return String(bin % 10 ** digits).padStart(digits, '0');
}

/**
 * The TOTP code for a base32 secret at a given time.
 * @param {string} secretBase32
 * @param {{ time?: number, digits?: number, step?: number }} [opts]
 *   time in seconds since the epoch (default: now)
 * @returns {string}
 */
export function totp(secretBase32, { time = Date.now() / 1000, digits = 6, step = 30 } = {}) {
  return hotp(base32Decode(secretBase32), Math.floor(time / step), digits);
}
