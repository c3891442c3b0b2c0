// The review web UI in a real browser (Debian's chromium, headless, driven by puppeteer-core)
// against a database seeded by real `atlas-host run`s on `atlas-host mock-llm`:
// log in with a reviewer token, load the list, filter, open a session, approve it with a
// reason, bulk-quarantine a filtered selection, then check the review_events rows and that
// `atlas-host export` honours the decisions; a task containing <script> must render as text and
// a state change without the CSRF token must be refused. Screenshots go to
// $ATLAS_UI_SCREENSHOT_DIR (kept as CI artefacts).
// Usage: node run.mjs /path/to/atlas-host
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import puppeteer from 'puppeteer-core';

const hostBin = process.argv[2];
if (!hostBin) {
  console.error('usage: node run.mjs /path/to/atlas-host');
  process.exit(2);
}
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!chromium) {
  console.log('SKIP: Debian\'s chromium is needed for this test (apt-get install chromium)');
  process.exit(77);
}
for (const tool of ['sqlite3']) {
  try { execFileSync('sh', ['-c', `command -v ${tool}`]); } catch (e) {
    console.log(`SKIP: ${tool} is needed to read review_events (apt-get install sqlite3)`);
    process.exit(77);
  }
}
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const pluginDir = process.env.ATLAS_TEST_PLUGIN_DIR || path.join(path.dirname(hostBin), '..', 'plugins');
const shots = process.env.ATLAS_UI_SCREENSHOT_DIR || path.join(tmpdir(), 'atlas-review-ui-screenshots');
mkdirSync(shots, { recursive: true });
const work = mkdtempSync(path.join(tmpdir(), 'atlas-review-ui-'));
const children = [];
let browser = null;
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

// Starts a child and resolves with the URL it prints on a line matching `re`.
function startListening(args, name, re, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(hostBin, args, { cwd: work, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    children.push(child);
    const timer = setTimeout(() => reject(new Error(`${name} did not print its URL within 60 s`)), 60000);
    child.on('exit', (code) => reject(new Error(`${name} exited early with code ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = re.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
  });
}

const mock = await startListening(['mock-llm', '--scenario', path.join(repo, 'configs/quickstart-scenario.json'), '--port', '0'],
  'mock-llm', /^listening on (http:\/\/\S+)$/);

// The shipped quickstart config with review gating on (sessions stay pending), our database.
const db = path.join(work, 'atlas.db');
let config = readFileSync(path.join(repo, 'configs/quickstart.toml'), 'utf8');
assert.ok(config.includes('require_approval = false'), 'configs/quickstart.toml no longer says require_approval = false');
config = config.replace('require_approval = false', 'require_approval = true')
  .replace('database_url = "sqlite://.atlas/atlas.db"', `database_url = "sqlite://${db}"\nspool_path = "${path.join(work, 'spool.jsonl')}"`);
config += `\n[plugins]\ndirs = ["${pluginDir}"]\n\n[serve]\nui = true\nui_tokens_env = "ATLAS_UI_TEST_TOKENS"\n`;
const configPath = path.join(work, 'atlas.toml');
writeFileSync(configPath, config);
const env = { OPENAI_BASE_URL: `${mock.url}/v1`, OPENAI_API_KEY: '', ATLAS_UI_TEST_TOKENS: 'carol=carol-0123456789abcdef-token' };

const tasks = [
  'Review this diff for injection bugs: db.query("SELECT * FROM users WHERE id=" + req.params.id)',
  'Review this login handler for authentication bypass: if (user.password == req.body.password || req.body.debug) ok()',
  '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2"> Review this template for XSS',
  'Review this file upload handler for path traversal: fs.writeFile(path.join(dir, req.body.name), data)',
];
for (const task of tasks) {
  execFileSync(hostBin, ['run', '-c', configPath, '--no-preflight', '--task', task], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300000 });
}
const sql = (q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();
assert.equal(sql('SELECT COUNT(*) FROM sessions'), String(tasks.length));
assert.equal(sql("SELECT COUNT(*) FROM sessions WHERE review_status = 'pending'"), String(tasks.length));

const ui = await startListening(['serve', '--ui-only', '-c', configPath, '--listen', '127.0.0.1:0'], 'atlas-host serve --ui-only',
  /^review UI on (http:\/\/\S+)$/, env);

browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--lang=en-US'],
});
const page = await browser.newPage();
await page.setViewport({ width: 1440, height: 900 });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
// Refused requests (the login before it, the CSRF check) log "Failed to load resource": expected, not script errors.
page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text()); });
page.on('dialog', (d) => { pageErrors.push('unexpected dialog: ' + d.message()); d.dismiss(); });
const shot = async (name) => page.screenshot({ path: path.join(shots, name + '.png'), fullPage: false });
const rowIds = () => page.$$eval('#rows tr.item', (trs) => trs.map((t) => t.dataset.id));
const waitRows = async (n) => page.waitForFunction((k) => document.querySelectorAll('#rows tr.item').length === k, { timeout: 20000 }, n);

// ---- login with the reviewer token
await page.goto(ui.url, { waitUntil: 'networkidle0' });
await page.waitForSelector('#login');
await shot('01-login');
await page.type('#token', 'wrong-token-0123456789');
await page.click('#login button[type=submit]');
await page.waitForFunction(() => document.querySelector('#login').textContent.includes('unknown reviewer token'));
await page.$eval('#token', (i) => { i.value = ''; });
await page.type('#token', 'carol-0123456789abcdef-token');
await page.click('#login button[type=submit]');
await page.waitForSelector('#actor');
assert.equal(await page.$eval('#actor', (e) => e.textContent), 'carol');
const cookies = await page.cookies();
const sessionCookie = cookies.find((c) => c.name === 'atlas_ui_session');
assert.ok(sessionCookie && sessionCookie.httpOnly && sessionCookie.sameSite === 'Strict', JSON.stringify(cookies));

// ---- the list
await waitRows(tasks.length);
// The counts arrive in their own request after the rows.
await page.waitForFunction((n) => document.querySelector('#match-count').textContent === n, { timeout: 20000 }, String(tasks.length));
assert.equal(await page.$eval('#tabs a[data-review=pending] .n', (e) => e.textContent), String(tasks.length));
await shot('02-sessions');

// The hostile task renders as text: no script ran, no <img> element was made from it.
const hostile = await page.$$eval('#rows td.task .t', (els) => els.map((e) => e.textContent).find((t) => t.includes('<script>')));
assert.ok(hostile && hostile.startsWith('<script>window.__pwned = 1</script>'), 'the task shows its characters: ' + hostile);
assert.equal(await page.evaluate(() => window.__pwned), undefined, 'the task\'s script must not run');
assert.equal(await page.$$eval('#rows img', (i) => i.length), 0);

// ---- filter: free text
await page.type('#f-q', 'db.query');
await page.keyboard.press('Enter');
await waitRows(1);
assert.match(await page.$eval('#rows td.task .t', (e) => e.textContent), /injection bugs/);
await shot('03-filtered');

// ---- open the session, approve with a reason
await page.click('#rows tr.item');
await page.waitForSelector('#session-title');
const approvedId = (await page.$eval('#session-title', (e) => e.textContent)).replace('Session ', '');
await page.waitForFunction(() => document.body.textContent.includes('Model calls'));
await shot('04-session');
await page.type('#reason', 'checked the finding against the diff');
await page.click('#approve');
await page.waitForFunction(() => document.querySelector('#history') && document.querySelector('#history').textContent.includes('carol'), { timeout: 20000 });
await shot('05-approved');
// A corrected answer, stored as a demonstration.
await page.type('#demo-answer', 'Line 1 concatenates req.params.id into SQL: use a bound parameter.');
await page.click('#save-demo');
await page.waitForFunction(() => document.querySelector('#history').textContent.includes('demonstration'), { timeout: 20000 });

// ---- a hostile session in detail: still text
const hostileId = sql("SELECT id FROM sessions WHERE task LIKE '<script>%'");
await page.goto(`${ui.url}#/session/${hostileId}`, { waitUntil: 'networkidle0' });
// Only the hash changed: wait for this session's page, not the previous one still on screen.
await page.waitForFunction((id) => document.querySelector('#session-title') && document.querySelector('#session-title').textContent === 'Session ' + id,
  { timeout: 20000 }, hostileId);
await page.waitForSelector('#task-text');
assert.ok((await page.$eval('#task-text', (e) => e.textContent)).includes('<img src=x onerror='));
assert.equal(await page.evaluate(() => window.__pwned), undefined);
assert.equal(await page.$$eval('main img', (i) => i.length), 0);

// ---- a state change without the CSRF token is refused (the page's own cookie, no header)
const refused = await page.evaluate(async (id) => {
  const r = await fetch(`/ui/api/sessions/${id}/review`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ status: 'approved', reason: 'forged' }) });
  return { status: r.status, body: await r.text() };
}, hostileId);
assert.equal(refused.status, 403, refused.body);
assert.match(refused.body, /CSRF/);

// ---- bulk quarantine of the pending ones in the list
await page.goto(`${ui.url}#/sessions?review=pending`, { waitUntil: 'networkidle0' });
await waitRows(tasks.length - 1);
await page.waitForSelector('#bulk-quarantine:not([disabled])', { timeout: 20000 });
await page.click('#bulk-quarantine');
await page.waitForSelector('#bulk-confirm');
assert.match(await page.$eval('#bulk-confirm', (e) => e.textContent), new RegExp(`Quarantine ${tasks.length - 1} sessions`));
await shot('06-bulk-confirm');
await page.click('#bulk-confirm');  // no reason yet: refused in the dialog
await page.waitForFunction(() => document.querySelector('.dialog').textContent.includes('reason is required'));
await page.type('#bulk-reason', 'seeded by the browser test: not training data');
await page.click('#bulk-confirm');
await page.waitForFunction(() => !document.querySelector('.scrim'), { timeout: 20000 });
await page.waitForFunction(() => document.querySelector('#rows') && document.querySelector('#rows').textContent.includes('No session matches'), { timeout: 20000 });

// ---- the other pages render
await page.goto(`${ui.url}#/sessions`, { waitUntil: 'networkidle0' });
await waitRows(tasks.length);
await shot('07-sessions-after');
await page.goto(`${ui.url}#/queue`, { waitUntil: 'networkidle0' });
await page.waitForSelector('#queue-empty');
await page.goto(`${ui.url}#/learning`, { waitUntil: 'networkidle0' });
await page.waitForSelector('.keys-list .k .label');
await page.click('.keys-list .k:not(.muted)');
await page.waitForSelector('svg.chart');
await page.waitForSelector('#rejected, #rejected-none');
// Versions and rejected candidates: the same as `atlas-host playbook history|rejected` say.
const learningKey = decodeURIComponent(new URL(page.url()).hash.replace('#/learning/', ''));
const cli = (args) => JSON.parse(execFileSync(hostBin, ['playbook', ...args, learningKey, '--json', '-c', configPath],
  { cwd: work, env: { ...process.env, ...env }, encoding: 'utf8' }));
const history = cli(['history']);
assert.ok(history.versions.length >= 1, 'the runs\' learning synthesis stored a playbook version');
assert.deepEqual(await page.$$eval('.versions .v', (vs) => vs.map((v) => Number(v.dataset.version))),
  history.versions.map((v) => v.version));
const refusedByGates = cli(['rejected']);
assert.equal(await page.$$eval('#rejected .cand', (c) => c.length), refusedByGates.length);
await shot('08-learning');
await page.goto(`${ui.url}#/export`, { waitUntil: 'networkidle0' });
await page.waitForFunction(() => /1 session will be exported/.test(document.querySelector('#x-count').textContent), { timeout: 20000 });
await page.click('#x-run');
await page.waitForSelector('#x-sha', { timeout: 60000 });
const uiSha = await page.$eval('#x-sha', (e) => e.textContent);
await shot('09-export');

// ---- the database: one row per decision, the reviewer from the token
assert.equal(sql(`SELECT COUNT(*) FROM review_events WHERE actor = 'carol' AND action = 'set_review'`), String(tasks.length));
assert.equal(sql(`SELECT new_status || '|' || reason FROM review_events WHERE actor = 'carol' AND action = 'set_review' AND session_id = ${approvedId}`),
  'approved|checked the finding against the diff');
assert.equal(sql(`SELECT COUNT(*) FROM review_events WHERE actor = 'carol' AND new_status = 'quarantined' AND reason = 'seeded by the browser test: not training data'`),
  String(tasks.length - 1));
assert.equal(sql("SELECT COUNT(*) FROM review_events WHERE reason = 'forged'"), '0');
assert.equal(sql(`SELECT note FROM review_events WHERE actor = 'carol' AND action = 'demonstration' AND session_id = ${approvedId}`),
  'Line 1 concatenates req.params.id into SQL: use a bound parameter.');

// ---- `atlas-host export` honours the decisions: only the approved session
const out = path.join(work, 'export.jsonl');
execFileSync(hostBin, ['export', '-c', configPath, '--format', 'atlas-jsonl', '--output', out], { cwd: work, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
const lines = readFileSync(out, 'utf8').trim().split('\n');
assert.equal(lines.length, 1, 'one approved session exported');
assert.ok(lines[0].includes('injection bugs'), 'the approved session is the one exported');
// The UI's export of the same selection is the same file.
const cliSha = execFileSync('sha256sum', [out], { encoding: 'utf8' }).split(' ')[0];
assert.equal(uiSha, cliSha, 'the UI export and `atlas-host export` write the same bytes');

// ---- [serve] ui = true: the same UI on the gateway's server, the gateway routes still there
const gw = await startListening(['serve', '-c', configPath, '--listen', '127.0.0.1:0', '--no-preflight'], 'atlas-host serve',
  /^listening on (http:\/\/\S+)$/, { ...env, OPENAI_API_KEY: 'unused-by-mock-llm' });
const gwPage = await fetch(`${gw.url}/ui/`);
assert.equal(gwPage.status, 200);
assert.match(gwPage.headers.get('content-security-policy'), /script-src 'self'/);
const gwApi = await fetch(`${gw.url}/ui/api/sessions`);
assert.equal(gwApi.status, 401, 'the gateway-mounted UI wants the reviewer login too');
const health = await fetch(`${gw.url}/healthz`);
assert.equal(health.status, 200);
gw.child.kill('SIGTERM');

assert.deepEqual(pageErrors, [], 'no script error on any page');
await browser.close();
ui.child.kill('SIGTERM');
console.log(`review UI browser test: ok (screenshots in ${shots})`);
process.exit(0);
