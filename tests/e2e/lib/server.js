// Starts a real `enkaku serve` for one test: a temporary data directory, a free
// loopback port, SQLite in the data directory or a fresh PostgreSQL database
// (lib/pg.js), and a first association administrator created with the CLI.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { createTestDatabase } from './pg.js';

const execFileP = promisify(execFile);

/** The bootstrap administrator created by startServer(). */
export const ADMIN = Object.freeze({
  username: 'admin',
  displayName: '医師会 管理者',
  email: 'admin@example.jp',
  password: 'initial-Admin-passw0rd-2024',
});

/** @returns {Promise<number>} a port that was free on 127.0.0.1 a moment ago */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start an Enkaku server. Caller must `await server.stop()`.
 * @param {{ timeoutMs?: number, admin?: boolean }} [opts]
 * @returns {Promise<{ url: string, port: number, dataDir: string, databaseUrl: string | null,
 *   admin: typeof ADMIN, logs: () => string, stop: () => Promise<void> }>}
 */
export async function startServer({ timeoutMs = 30_000, admin = true } = {}) {
  const bin = process.env.ENKAKU_BIN;
  if (!bin) throw new Error('ENKAKU_BIN is not set (path of the built enkaku binary)');

  const dataDir = await mkdtemp(join(tmpdir(), 'enkaku-e2e-'));
  let child = null;
  const output = [];
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const databaseUrl = createTestDatabase();
    // The server reads its settings from ENKAKU_* variables and rejects unknown
    // ones, so the harness's own (ENKAKU_BIN, ENKAKU_TEST_DB, ...) must not leak in.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('ENKAKU_')),
    );
    Object.assign(env, {
      ENKAKU_DATA_DIR: dataDir,
      ENKAKU_HTTP__BIND: `127.0.0.1:${port}`,
      ENKAKU_HTTP__PUBLIC_URL: url,
      NO_COLOR: '1',
    });
    if (databaseUrl) env.ENKAKU_DATABASE__URL = databaseUrl;

    if (admin) {
      const pwFile = join(dataDir, 'admin-password');
      await writeFile(pwFile, `${ADMIN.password}\n`, { mode: 0o600 });
      try {
        await execFileP(
          bin,
          [
            'admin', 'create-admin',
            '--username', ADMIN.username,
            '--display-name', ADMIN.displayName,
            '--email', ADMIN.email,
            '--password-file', pwFile,
          ],
          { env, timeout: 30_000 },
        );
      } catch (e) {
        throw new Error(`enkaku admin create-admin failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      }
      await rm(pwFile, { force: true });
    }

    child = spawn(bin, ['serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => output.push(d));
    child.stderr.on('data', (d) => output.push(d));
    // eslint-disable-next-line no-control-regex
    const logs = () => Buffer.concat(output).toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
    let exitInfo = null;
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
    });

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exitInfo) {
        throw new Error(`enkaku serve exited early (${JSON.stringify(exitInfo)}):\n${logs()}`);
      }
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`enkaku serve did not answer /healthz with 200 within ${timeoutMs} ms:\n${logs()}`);
      }
      await sleep(100);
    }

    return { url, port, dataDir, databaseUrl, admin: ADMIN, logs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
