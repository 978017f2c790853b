// Opens a page in Debian's headless Chromium and prints, as one JSON line, what its `run()`
// returned. Usage: node cors.mjs <page-url>. Used by tests/it/cors.rs.
import { chromium } from 'playwright-core';

const [pageUrl] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
  ],
});
try {
  const page = await browser.newPage();
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  await page.goto(pageUrl);
  const result = await page.evaluate(() => window.run());
  console.log(JSON.stringify({ result, console: consoleLines }));
} finally {
  await browser.close();
}
