// Unit check of lib/totp.js against RFC 6238 (Appendix B, SHA-1) and RFC 4226.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { base32Decode, base32Encode, hotp, totp } from '../lib/totp.js';

const SEED = '12345678901234567890'; // RFC 6238 SHA-1 seed (ASCII)
const SECRET = base32Encode(Buffer.from(SEED, 'ascii'));

test('base32 round trip of the RFC seed', () => {
  assert.equal(SECRET, 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  assert.equal(base32Decode(SECRET).toString('ascii'), SEED);
  assert.equal(base32Decode('gezd gnbv-gy3t qojq gezd gnbv gy3t qojq====').toString('ascii'), SEED);
  assert.throws(() => base32Decode('GEZ1'));
});

test('RFC 4226 HOTP vectors', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314'];
  expected.forEach((code, i) => assert.equal(hotp(Buffer.from(SEED), i), code));
});

test('RFC 6238 SHA-1 vectors', () => {
  assert.equal(totp(SECRET, { time: 59, digits: 8 }), '94287082');
  assert.equal(totp(SECRET, { time: 59 }), '287082');
  assert.equal(totp(SECRET, { time: 1111111109, digits: 8 }), '07081804');
  assert.equal(totp(SECRET, { time: 1111111111, digits: 8 }), '14050471');
  assert.equal(totp(SECRET, { time: 1234567890, digits: 8 }), '89005924');
  assert.equal(totp(SECRET, { time: 2000000000, digits: 8 }), '69279037');
  assert.equal(totp(SECRET, { time: 20000000000, digits: 8 }), '65353130');
  assert.match(totp(SECRET), /^\d{6}$/);
});
