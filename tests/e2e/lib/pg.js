// Per-run PostgreSQL databases for the browser tests. `ops/test.sh` starts a
// throwaway server and passes its URL in ENKAKU_TEST_DATABASE_URL; each call
// creates a new, empty database on it (dropped with the server at the end).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * Create a fresh database `e2e_<random>` on the server named by
 * ENKAKU_TEST_DATABASE_URL and return its URL, or null when that variable is
 * unset (the tests then run on SQLite).
 * @returns {string | null}
 */
export function createTestDatabase() {
  const serverUrl = process.env.ENKAKU_TEST_DATABASE_URL;
  if (!serverUrl) return null;
  const name = `e2e_${randomBytes(8).toString('hex')}`;
  execFileSync('psql', [serverUrl, '-v', 'ON_ERROR_STOP=1', '-qc', `CREATE DATABASE ${name}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
