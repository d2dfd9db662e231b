// Starts the seeded demo prefecture (`enkaku demo`, portal/src/demo.rs) for one test: a
// temporary data directory, free loopback ports for HTTP and DICOM, SQLite in the data
// directory or a fresh PostgreSQL database (lib/pg.js) passed with --database-url. Waits for
// /healthz and the DICOM port, then reads <data-dir>/demo-accounts.json (users with their API
// tokens, facilities with AE titles and service tokens, the demo password).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createTestDatabase } from './pg.js';
import { freePort } from './server.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @returns {Promise<boolean>} whether something accepts TCP connections on 127.0.0.1:port */
function listening(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const done = (ok) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * @typedef {{ username: string, display_name: string, facility: string, roles: string[], token: string }} DemoUser
 * @typedef {{ id: number, name: string, kind: string, requesting: boolean, supporting: boolean,
 *   ae_titles: string[], service_account: string | null, service_token: string | null }} DemoFacility
 * @typedef {{ url: string, password: string, second_factor_required: boolean,
 *   dicom: { host: string, port: number, called_ae_title: string },
 *   facilities: DemoFacility[], users: DemoUser[] }} DemoAccounts
 */

/**
 * Start `enkaku demo`. Caller must `await demo.stop()`.
 * @param {{ timeoutMs?: number }} [opts]
 * @returns {Promise<{ url: string, port: number, dicomPort: number, dataDir: string,
 *   databaseUrl: string | null, accounts: DemoAccounts, user: (name: string) => DemoUser,
 *   facility: (name: string) => DemoFacility, logs: () => string, stop: () => Promise<void> }>}
 */
export async function startDemo({ timeoutMs = 60_000 } = {}) {
  const bin = process.env.ENKAKU_BIN;
  if (!bin) throw new Error('ENKAKU_BIN is not set (path of the built enkaku binary)');

  const dataDir = await mkdtemp(join(tmpdir(), 'enkaku-e2e-demo-'));
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
    let dicomPort = await freePort();
    while (dicomPort === port) dicomPort = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const databaseUrl = createTestDatabase();
    // The server rejects unknown ENKAKU_* variables, so the harness's own (ENKAKU_BIN,
    // ENKAKU_TEST_DB, ...) must not leak in; the demo sets its own from its arguments.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('ENKAKU_')),
    );
    env.NO_COLOR = '1';
    const args = [
      'demo',
      '--data-dir', dataDir,
      '--http', `127.0.0.1:${port}`,
      '--dicom', `127.0.0.1:${dicomPort}`,
    ];
    if (databaseUrl) args.push('--database-url', databaseUrl);

    child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => output.push(d));
    child.stderr.on('data', (d) => output.push(d));
    // eslint-disable-next-line no-control-regex
    const logs = () => Buffer.concat(output).toString('utf8').replace(/\x1b\[[0-9;]*m/g, '');
    let exitInfo = null;
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
    });

    const deadline = Date.now() + timeoutMs;
    let httpUp = false;
    for (;;) {
      if (exitInfo) {
        throw new Error(`enkaku demo exited early (${JSON.stringify(exitInfo)}):\n${logs()}`);
      }
      if (!httpUp) {
        try {
          const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
          httpUp = res.status === 200;
        } catch {
          // not listening yet
        }
      }
      if (httpUp && (await listening(dicomPort))) break;
      if (Date.now() > deadline) {
        throw new Error(
          `enkaku demo did not answer /healthz (${httpUp ? 'up' : 'down'}) and DICOM on ${dicomPort} within ${timeoutMs} ms:\n${logs()}`,
        );
      }
      await sleep(100);
    }

    /** @type {DemoAccounts} */
    const accounts = JSON.parse(await readFile(join(dataDir, 'demo-accounts.json'), 'utf8'));
    const user = (name) => {
      const u = accounts.users.find((x) => x.username === name);
      if (!u) throw new Error(`demo-accounts.json has no user ${name}`);
      return u;
    };
    const facility = (name) => {
      const f = accounts.facilities.find((x) => x.name === name);
      if (!f) throw new Error(`demo-accounts.json has no facility ${name}`);
      return f;
    };
    return { url, port, dicomPort, dataDir, databaseUrl, accounts, user, facility, logs, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
