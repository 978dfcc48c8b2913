// Notifications in the editor: a second person's bell counts a mention the moment it is made,
// with no reload; the inbox panel says who, what and where, and opens the document; settings
// save; and a forgotten password is reset through a real emailed link (aiosmtpd).

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { accessibilityProblems, invite, launch, person, rest, screenshot, signIn, startServer, waitForSaveState } from './harness.mjs'
import { startSmtp, verifyByMail } from './mail.mjs'

let server
let browser
let smtp
let olga // owner
let bob // editor in Olga's workspace
const contexts = []

before(async () => {
  smtp = await startSmtp()
  server = await startServer({
    CREO_SMTP_URL: smtp.url,
    CREO_MAIL_FROM: 'creo <noreply@creo.test>',
  })
  browser = await launch()
  olga = await person(server.base, 'olga')
  // With email on, only a confirmed address invites.
  await verifyByMail(server.base, smtp, olga)
  bob = await person(server.base, 'bob')
  // Confirmed too: an unconfirmed address hears of no invitation (it may not be his).
  await verifyByMail(server.base, smtp, bob)
  await invite(server.base, olga, bob, 'editor')
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
  smtp?.kill()
})

const badge = (page) => page.getByTestId('unread-count')

test('the bell counts a mention live, and the inbox opens the document', async () => {
  const { context, page } = await signIn(browser, server.base, bob, olga.tokens.account_id)
  contexts.push(context)
  // Bob already has one notification: Olga's invitation.
  await badge(page).filter({ hasText: '1' }).waitFor()
  const doc = await rest(server.base, '/documents', {
    method: 'POST',
    token: olga.tokens.access_token,
    body: { title: 'Autumn launch' },
  })
  const sent = Date.now()
  await rest(server.base, `/documents/${doc.doc_id}/comments`, {
    method: 'POST',
    token: olga.tokens.access_token,
    body: { body: `@${bob.tokens.user_id} can you tighten the caption?` },
  })
  await badge(page).filter({ hasText: '2' }).waitFor({ timeout: 5_000 })
  console.log(`mention to bell in the browser: ${Date.now() - sent} ms`)
  await page.getByRole('button', { name: /Notifications, 2 unread/ }).click()
  const panel = page.getByRole('dialog', { name: 'Notifications' })
  const item = panel.getByRole('button', { name: new RegExp(`^${olga.name} mentioned you in “Autumn launch”`) })
  await item.waitFor()
  // The mention reads as a name, as in the comments panel.
  await panel.getByText(`@${bob.name} can you tighten the caption?`).waitFor()
  await screenshot(page, 'inbox-open')
  assert.deepEqual(await accessibilityProblems(page), [])
  await item.click()
  await waitForSaveState(page, 'All changes saved')
  assert.ok(page.url().endsWith(`/doc/${doc.doc_id}`), page.url())
  await badge(page).filter({ hasText: '1' }).waitFor()
  const inbox = await rest(server.base, '/users/me/notifications', { token: bob.tokens.access_token })
  assert.equal(inbox.unread, 1, 'opened is read')
  await screenshot(page, 'inbox-opened-document')
})

test('notification settings save from the inbox', async () => {
  const { context, page } = await signIn(browser, server.base, bob, olga.tokens.account_id)
  contexts.push(context)
  await page.getByRole('button', { name: /^Notifications/ }).click()
  await page.getByRole('button', { name: 'Settings' }).click()
  const settings = page.getByRole('dialog', { name: 'Notification settings' })
  await settings.getByLabel('Email me').selectOption('daily')
  await settings.getByText('Saved').waitFor()
  await settings.getByLabel('Review requests by email').uncheck()
  await settings.getByText('Saved').waitFor()
  await screenshot(page, 'inbox-settings')
  assert.deepEqual(await accessibilityProblems(page), [])
  const saved = await rest(server.base, '/users/me/notification-settings', { token: bob.tokens.access_token })
  assert.equal(saved.digest, 'daily')
  assert.equal(saved.kinds.review_requested.email, false)
  assert.equal(saved.kinds.mention.email, true)
})

test('a forgotten password is reset through the emailed link', async () => {
  const carol = await person(server.base, 'carol')
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  contexts.push(context)
  const page = await context.newPage()
  await page.goto(`${server.base}/`)
  await page.getByRole('button', { name: 'Forgot your password?' }).click()
  await page.getByLabel('Email').fill(carol.email)
  await page.getByRole('button', { name: 'Email me a link' }).click()
  await page.getByText('a link to choose a new password is on its way').waitFor()
  let mails = []
  for (let i = 0; i < 100 && mails.length === 0; i++) {
    await page.waitForTimeout(100)
    mails = smtp.mailTo(carol.email).filter((m) => m.includes("#/reset/"))
  }
  assert.equal(mails.length, 1, 'one reset email')
  const link = mails[0].match(/http:\/\/\S+#\/reset\/pr_[0-9a-f]+/)[0]
  await page.goto(link)
  await page.getByLabel('New password', { exact: true }).fill('a fresh autumn passphrase')
  await page.getByLabel('The same again').fill('a fresh autumn passphrase')
  await page.getByRole('button', { name: 'Change my password' }).click()
  await page.getByText('Your password is changed').waitFor()
  await screenshot(page, 'password-reset-done')
  await page.getByRole('link', { name: 'Log in' }).click()
  await page.getByLabel('Email').fill(carol.email)
  await page.getByLabel('Password').fill('a fresh autumn passphrase')
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('heading', { name: 'Documents' }).waitFor()
})
