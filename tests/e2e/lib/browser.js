// Launches Debian's Chromium (apt package `chromium`, installed by
// `ops/deps.sh --test`) through playwright-core. playwright-core never
// downloads a browser of its own.
import { chromium } from 'playwright-core';

export const CHROMIUM_PATH = process.env.ENKAKU_CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox', // tests run as root in CI
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Launch a headless Chromium. Caller must `await browser.close()`.
 * @param {import('playwright-core').LaunchOptions} [options] extra launch options
 * @returns {Promise<import('playwright-core').Browser>}
 */
export async function launchBrowser(options = {}) {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    ...options,
  });
}
