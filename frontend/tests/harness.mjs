// What the browser tests stand on: a real creo server (the binary cargo built) on an ephemeral
// port with a fresh data folder, serving the built editor; Debian's Chromium driven by
// playwright-core; people registered and invited over the real REST API; and each person's
// own browser context, signed in through the editor's login form.

import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { chromium } from 'playwright-core'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
export const ARTIFACTS = join(root, 'test-artifacts/editor')

/** Starts `creo serve` (with extra `CREO_*` settings) and resolves with its base URL once it listens. */
export async function startServer(env = {}) {
  const bin = resolve(root, process.env.CREO_BIN ?? 'target/debug/creo')
  const data = mkdtempSync(join(tmpdir(), 'creo-e2e-'))
  let log = ''
  let child
  const spawnOn = (addr) =>
    new Promise((ok, fail) => {
      child = spawn(bin, ['serve', '--addr', addr, '--data', data], {
        cwd: root,
        env: {
          ...process.env,
          // CREO_FRONTEND may name another build (an older one, to see a test fail without a fix).
          CREO_FRONTEND: process.env.CREO_FRONTEND ?? join(root, 'frontend/dist'),
          CREO_MODELS: process.env.CREO_MODELS ?? join(root, 'models'),
          CREO_JWT_SECRET: 'e2e-secret-e2e-secret-e2e-secret!',
          // Every test person signs up from the loopback.
          CREO_SIGNUPS_PER_HOUR: '0',
          RUST_LOG: process.env.RUST_LOG ?? 'info',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let seen = ''
      const timer = setTimeout(() => fail(new Error(`creo did not start:\n${log}`)), 60_000)
      const read = (chunk) => {
        log += chunk
        seen += chunk
        const m = seen.match(/creo listening on (http:\/\/[0-9.:]+)/)
        if (m) {
          clearTimeout(timer)
          ok(m[1])
        }
      }
      child.stdout.on('data', read)
      child.stderr.on('data', read)
      child.on('error', (e) => fail(new Error(`${bin} could not start: ${e.message}`)))
      child.on('exit', (code) => fail(new Error(`creo exited with ${code}:\n${log}`)))
    })
  const base = await spawnOn('127.0.0.1:0')
  const exited = () => new Promise((ok) => (child.exitCode !== null ? ok() : child.once('exit', ok)))
  return {
    base,
    log: () => log,
    /** Stops the server and resolves once it has exited; `resume` brings it back on the same address and data. */
    async pause() {
      child.kill('SIGTERM')
      await exited()
    },
    async resume() {
      await spawnOn(base.replace('http://', ''))
    },
    stop() {
      child.kill('SIGTERM')
      rmSync(data, { recursive: true, force: true })
    },
  }
}

export async function launch() {
  mkdirSync(ARTIFACTS, { recursive: true })
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  })
}

/**
 * A JSON call to creo's REST API. Like the editor, it waits out a 429 (the account's tier allows
 * ten requests a second, and a test's own calls share them with the pages it drives).
 */
export async function rest(base, path, { token, method = 'GET', body } = {}) {
  const send = () =>
    fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  let response = await send()
  for (let tries = 0; response.status === 429 && tries < 3; tries++) {
    await new Promise((ok) => setTimeout(ok, Math.min(5, Number(response.headers.get('retry-after')) || 1) * 1000))
    response = await send()
  }
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}

let counter = 0

/** Registers a person; `name` is the name they sign up with ("Alice 17…"), which others see. */
export async function person(base, first) {
  const unique = `${Date.now()}${counter++}`
  const email = `${first}.${unique}@example.com`
  const name = `${first[0].toUpperCase()}${first.slice(1)} ${unique.slice(-4)}`
  const password = 'correct horse battery staple'
  await rest(base, '/auth/register', { method: 'POST', body: { email, password, name } })
  const tokens = await rest(base, '/auth/login', { method: 'POST', body: { email, password } })
  return { name, email, password, tokens }
}

/** `owner` invites `who` into their account with `role`, and `who` accepts. */
export async function invite(base, owner, who, role) {
  const { token } = await rest(base, `/accounts/${owner.tokens.account_id}/invitations`, {
    method: 'POST',
    token: owner.tokens.access_token,
    body: { email: who.email, role },
  })
  await rest(base, '/invitations/accept', { method: 'POST', token: who.tokens.access_token, body: { token } })
}

/**
 * Opens a browser context for `who` (a desktop window unless `device` says otherwise), logs in
 * through the form, switches to `account` when it is not their own, and returns the page on the
 * documents list.
 */
export async function signIn(browser, base, who, account, device = { viewport: { width: 1280, height: 860 } }) {
  const context = await browser.newContext(device)
  const page = await context.newPage()
  page.on('pageerror', (e) => console.error(`[${who.name}] page error:`, e))
  await page.goto(`${base}/`)
  await page.getByLabel('Email').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Documents' }).waitFor()
  if (account && account !== who.tokens.account_id) {
    await page.getByLabel('Workspace').selectOption(account)
    await page.waitForFunction(
      (id) => JSON.parse(localStorage.getItem('creo.session') ?? '{}').accountId === id,
      account,
    )
    await page.getByRole('heading', { name: 'Documents' }).waitFor()
  }
  return { context, page }
}

/** `who` logs in through the form on a page that shows it (after "Sign in again", say). */
export async function logInAgain(page, who) {
  await page.getByLabel('Email').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Log in' }).click()
}

/** Selects the characters [from, to) of the editor text node `selector` finds, as a person would with the mouse. */
export async function selectText(page, selector, from, to) {
  await page.evaluate(
    ([sel, a, b]) => {
      const text = document.querySelector(sel).firstChild
      const range = document.createRange()
      range.setStart(text, a)
      range.setEnd(text, b ?? text.length)
      getSelection().removeAllRanges()
      getSelection().addRange(range)
    },
    [selector, from, to],
  )
}

/** Opens a document in the page and waits until it is synced with the server. */
export async function openDocument(page, docId) {
  await page.goto(`${page.url().split('#')[0]}#/doc/${docId}`)
  await waitForSaveState(page, 'All changes saved')
  return page.locator('.prose[data-field="post"]')
}

export async function waitForSaveState(page, text) {
  await page.getByTestId('save-state').filter({ hasText: text }).waitFor({ timeout: 15_000 })
}

/** Waits until the editor's text contains `text`. */
export async function waitForText(page, text, field = 'post') {
  await page.waitForFunction(
    ([t, f]) => document.querySelector(`.prose[data-field="${f}"]`)?.textContent?.includes(t),
    [text, field],
    { timeout: 15_000 },
  )
}

/** The editor's text as the person reads it: paragraphs by line, other people's carets left out. */
export async function editorText(page, field = 'post') {
  return page.locator(`.prose[data-field="${field}"]`).evaluate((el) => {
    const copy = el.cloneNode(true)
    copy.querySelectorAll('.collaboration-carets__caret').forEach((c) => c.remove())
    return [...copy.querySelectorAll('p')].map((p) => p.textContent).join('\n')
  })
}

export async function screenshot(page, name) {
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js')

/** axe-core's serious and critical findings on the page as it is now. */
export async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE })
  const violations = await page.evaluate(async () => (await window.axe.run(document)).violations)
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}
