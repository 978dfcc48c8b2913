// The rest of what a team notices: AI edits they can take back, scheduling that says what it
// can do, panels that recover when the server comes back, a phone layout that puts the text
// first, and pages that work with a keyboard and a screen reader (axe-core finds nothing
// serious on any of them).

import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import { after, before, test } from 'node:test'
import {
  accessibilityProblems,
  editorText,
  launch,
  person,
  rest,
  screenshot,
  signIn,
  startServer,
  waitForSaveState,
  waitForText,
} from './harness.mjs'

const PHONE = { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true }

let server
let browser
let ava
const contexts = []
// The publishing destination: a real HTTP server on the loopback, keeping what it was sent.
let destination
const published = []

before(async () => {
  destination = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      published.push(JSON.parse(body))
      res.end('ok')
    })
  })
  await new Promise((ok) => destination.listen(0, '127.0.0.1', ok))
  server = await startServer({
    CREO_PUBLISH_WEBHOOK_URL: `http://127.0.0.1:${destination.address().port}/publish`,
    CREO_OUTBOUND_ALLOW: '127.0.0.0/8',
  })
  browser = await launch()
  ava = await person(server.base, 'ava')
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
  destination?.close()
})

async function newDocument(title, device) {
  const { context, page } = await signIn(browser, server.base, ava, undefined, device)
  contexts.push(context)
  await page.getByLabel('New document title').fill(title)
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  return { context, page, editor: page.locator('.prose[data-field="post"]') }
}


test('an AI variation and creo AI’s hashtags can be taken back, and one Generate is one generation', async () => {
  const a = await newDocument('AI undo')
  await a.editor.click()
  await a.page.keyboard.type('Our spring collection is here. ')
  await a.page.keyboard.press('Control+b')
  await a.page.keyboard.type('Light jackets')
  await a.page.keyboard.press('Control+b')
  await a.page.keyboard.type(' for cool mornings. Free shipping this week only.')
  await waitForSaveState(a.page, 'All changes saved')
  const original = await editorText(a.page)

  await a.page.getByRole('tab', { name: 'AI' }).click()
  await a.page.getByRole('button', { name: /^Generate/ }).click()
  const tagged = a.page.locator('.variations li').filter({ has: a.page.getByText('With hashtags', { exact: true }) })
  await tagged.waitFor({ timeout: 60_000 })
  await tagged.getByRole('button', { name: 'Use this' }).click()
  await a.page.waitForFunction(() => /#\w+/.test(document.querySelector('.prose')?.textContent ?? ''))
  assert.equal(await a.page.locator('.prose strong').innerText(), 'Light jackets', 'formatting kept')
  await waitForSaveState(a.page, 'All changes saved')

  await a.page.getByRole('button', { name: 'Undo' }).first().click()
  await a.page.waitForFunction(() => !/#\w+/.test(document.querySelector('.prose')?.textContent ?? ''))
  assert.equal(await editorText(a.page), original)
  assert.equal(await a.page.locator('.prose strong').innerText(), 'Light jackets')

  const billing = await rest(server.base, `/accounts/${ava.tokens.account_id}/billing`, { token: ava.tokens.access_token })
  assert.equal(billing.month.generations, 1, 'four variations from one click are one generation')

  await a.page.getByRole('button', { name: 'Let creo AI add the best three' }).click()
  const added = a.page.getByText('creo AI added')
  await added.waitFor({ timeout: 30_000 })
  await a.page.waitForFunction(() => /#\w+/.test(document.querySelector('.prose')?.textContent ?? ''))
  await screenshot(a.page, 'ai-suggestion-undo')
  await a.page.getByRole('status').filter({ hasText: 'creo AI added' }).getByRole('button', { name: 'Undo' }).click()
  await a.page.waitForFunction(() => !/#\w+/.test(document.querySelector('.prose')?.textContent ?? ''))
  assert.equal(await editorText(a.page), original)
})

test('scheduling offers only what can be published, with real time zones, and counts what X will send', async () => {
  const a = await newDocument('Schedule')
  await a.editor.click()
  await a.page.keyboard.type('A launch post that X will carry as it is.')
  await waitForSaveState(a.page, 'All changes saved')
  const chars = [...(await editorText(a.page))].length

  await a.page.getByRole('tab', { name: 'X', exact: true }).click()
  const counter = a.page.getByTestId('counter')
  await counter.filter({ hasText: `${chars} / 280` }).waitFor()
  assert.match(await counter.innerText(), /main post goes out here/)
  assert.equal(await counter.getAttribute('aria-live'), null, 'not read out on every keystroke')

  await a.page.getByRole('button', { name: 'Submit for review' }).click()
  await a.page.getByRole('button', { name: 'Approve' }).click()
  await a.page.getByRole('button', { name: 'Schedule…' }).click()
  for (const platform of ['Instagram', 'TikTok']) {
    const box = a.page.getByRole('checkbox', { name: platform })
    assert.equal(await box.isDisabled(), true, `${platform} needs media`)
  }
  assert.match(await a.page.locator('.schedule').innerText(), /needs an image or video/)
  const zone = a.page.getByRole('combobox', { name: 'Time zone' })
  assert.ok((await zone.locator('option').count()) > 100, 'a list of time zones, not a text box')
  await zone.selectOption('Asia/Tokyo')
  await screenshot(a.page, 'schedule-form')
})

test('publish now sends an approved post to the places chosen at once, and the bar says so', async () => {
  const a = await newDocument('Right now')
  await a.editor.click()
  await a.page.keyboard.type('Doors open at nine.')
  await waitForSaveState(a.page, 'All changes saved')
  await a.page.getByRole('button', { name: 'Submit for review' }).click()
  await a.page.getByRole('button', { name: 'Approve' }).click()
  await a.page.getByRole('button', { name: 'Schedule…' }).click()
  await a.page.getByRole('checkbox', { name: 'LinkedIn' }).check()
  await a.page.getByRole('button', { name: 'Publish now' }).click()
  await a.page.getByTestId('workflow-state').filter({ hasText: 'Published' }).waitFor()
  // The publishing job reads as creo, not as someone who left.
  await a.page.getByText('creo: Scheduled → Published').waitFor()
  await screenshot(a.page, 'published-now')
  const sent = published.filter((p) => p.text === 'Doors open at nine.')
  assert.equal(sent.length, 1, 'sent once')
  assert.deepEqual(
    sent[0].posts.map((p) => p.platform),
    ['linkedin'],
  )
})

test('panels that failed while the server was down recover by themselves when it is back', async () => {
  const a = await newDocument('Recovery')
  await server.pause()
  await waitForSaveState(a.page, 'Reconnecting')
  await a.page.getByRole('tab', { name: 'Versions' }).click()
  await a.page.locator('#side-panel [role="alert"]').waitFor()
  await server.resume()
  await waitForSaveState(a.page, 'All changes saved')
  await a.page.locator('#side-panel [role="alert"]').waitFor({ state: 'detached', timeout: 15_000 })
  await a.page.getByRole('button', { name: 'Save version' }).waitFor()
})

test('on a 375 px phone the text comes first and nothing is cut off', async () => {
  const a = await newDocument('Phone layout', PHONE)
  await a.editor.tap()
  await a.page.keyboard.type('Typed on a small phone.')
  await waitForSaveState(a.page, 'All changes saved')
  const width = await a.page.evaluate(() => document.documentElement.scrollWidth)
  assert.ok(width <= 375, `page is ${width}px wide`)
  const box = await a.editor.boundingBox()
  assert.ok(box.y < 812 / 2, `the text starts ${box.y}px down an 812px screen`)
  // Every tab is whole and on screen: none is clipped or scrolled away.
  for (const tab of await a.page.getByRole('tab').all()) {
    const t = await tab.boundingBox()
    assert.ok(t.x >= 0 && t.x + t.width <= 375, `${await tab.innerText()} is off screen`)
    assert.ok(await tab.evaluate((el) => el.scrollWidth <= el.clientWidth), `${await tab.innerText()} is cut`)
  }
  await screenshot(a.page, 'phone-375-editor')

  await a.page.goto(`${server.base}/#/`)
  const email = a.page.getByRole('textbox', { name: 'Email' })
  await email.waitFor()
  assert.ok((await email.boundingBox()).width >= 250, 'the invitation field has room')
  await screenshot(a.page, 'phone-375-documents')
})

test('keyboard and screen reader: tabs follow arrow keys, titles name the page, axe finds nothing serious', async () => {
  const problems = {}
  const check = async (page, name) => {
    const found = await accessibilityProblems(page)
    if (found.length) problems[name] = found
  }
  // Signed out: log in and sign up.
  const guest = await browser.newContext()
  contexts.push(guest)
  const out = await guest.newPage()
  await out.goto(`${server.base}/`)
  await out.getByRole('heading', { name: 'Log in' }).waitFor()
  assert.equal(await out.title(), 'Log in · creo')
  await check(out, 'log in')
  await out.getByRole('button', { name: 'New here? Create an account' }).click()
  await check(out, 'sign up')
  const { token } = await rest(server.base, `/accounts/${ava.tokens.account_id}/invitations`, {
    method: 'POST',
    token: ava.tokens.access_token,
    body: { email: 'guest@example.com', role: 'viewer' },
  })
  await out.goto(`${server.base}/#/invite/${token}`)
  await out.getByTestId('invitation').waitFor()
  await check(out, 'invitation')

  const a = await newDocument('Accessible post')
  assert.equal(await a.page.title(), 'Accessible post · creo')
  await a.editor.click()
  await a.page.keyboard.type('Words for the checker.')
  await check(a.page, 'editor')
  const first = a.page.getByRole('tab', { name: 'Post' })
  await first.focus()
  await a.page.keyboard.press('ArrowRight')
  assert.equal(await a.page.getByRole('tab', { name: 'Instagram' }).getAttribute('aria-selected'), 'true')
  assert.equal(await a.page.evaluate(() => document.activeElement?.textContent), 'Instagram')
  await a.page.keyboard.press('End')
  assert.equal(await a.page.getByRole('tab', { name: 'TikTok' }).getAttribute('aria-selected'), 'true')
  await a.page.keyboard.press('Home')
  for (const panel of ['Versions', 'AI', 'Credits']) {
    await a.page.getByRole('tab', { name: panel }).click()
    await a.page.getByRole('heading', { name: panel === 'Credits' ? 'Credits and usage' : panel }).waitFor()
    await check(a.page, `editor, ${panel}`)
  }
  await a.page.getByRole('tab', { name: 'Versions' }).click()
  await a.page.getByPlaceholder('Name this version').fill('Checked')
  await a.page.getByRole('button', { name: 'Save version' }).click()
  await a.page.locator('.versions li', { hasText: 'Checked' }).getByRole('button', { name: 'Restore' }).click()
  await a.page.getByRole('dialog').waitFor()
  await check(a.page, 'confirm dialog')
  await a.page.keyboard.press('Escape')
  await a.page.getByRole('dialog').waitFor({ state: 'detached' })

  await a.page.goto(`${server.base}/#/`)
  await a.page.getByRole('heading', { name: 'Documents' }).waitFor()
  assert.equal(await a.page.title(), 'Documents · creo')
  await check(a.page, 'documents')
  await a.page.goto(`${server.base}/#/doc/d_missing`)
  await a.page.getByTestId('not-found').waitFor()
  await check(a.page, 'not found')

  const phone = await newDocument('Accessible on a phone', PHONE)
  await check(phone.page, 'phone editor')
  assert.deepEqual(problems, {})
})

test('every page of a fixed flow fits a 375 px phone', async () => {
  const fits = async (page, name) => {
    await screenshot(page, `phone-375-${name}`)
    const width = await page.evaluate(() => document.documentElement.scrollWidth)
    assert.ok(width <= 375, `${name} is ${width}px wide`)
  }
  const { token } = await rest(server.base, `/accounts/${ava.tokens.account_id}/invitations`, {
    method: 'POST',
    token: ava.tokens.access_token,
    body: { email: 'phone-guest@example.com', role: 'editor' },
  })
  const guest = await browser.newContext(PHONE)
  contexts.push(guest)
  const out = await guest.newPage()
  await out.goto(`${server.base}/#/invite/${token}`)
  await out.getByTestId('invitation').waitFor()
  await fits(out, 'invitation')

  const a = await newDocument('Phone flows', PHONE)
  await a.editor.tap()
  await a.page.keyboard.type('Checked on a phone.')
  await a.page.getByRole('button', { name: 'Submit for review' }).tap()
  await a.page.getByRole('button', { name: 'Approve' }).tap()
  await a.page.getByRole('button', { name: 'Schedule…' }).tap()
  await a.page.getByRole('combobox', { name: 'Time zone' }).waitFor()
  await fits(a.page, 'schedule')
  await a.page.getByRole('tab', { name: 'Versions' }).tap()
  await a.page.getByPlaceholder('Name this version').fill('Phone version')
  await a.page.getByRole('button', { name: 'Save version' }).tap()
  await a.page.locator('.versions li', { hasText: 'Phone version' }).getByRole('button', { name: 'Restore' }).tap()
  await a.page.getByRole('dialog').waitFor()
  await fits(a.page, 'restore-confirm')
  await a.page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).tap()
  await a.page.goto(`${server.base}/#/doc/d_missing_on_phone`)
  await a.page.getByTestId('not-found').waitFor()
  await fits(a.page, 'not-found')
})
