// Notifications in the editor: a second person's bell counts a mention the moment it is made,
// with no reload; the inbox panel says who, what and where, and opens the document; settings
// save; and a forgotten password is reset through a real emailed link (aiosmtpd).

import assert from 'node:assert/strict'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer } from 'node:net'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, test } from 'node:test'
import { accessibilityProblems, invite, launch, person, rest, screenshot, signIn, startServer, waitForSaveState } from './harness.mjs'

const root = resolve(import.meta.dirname, '../..')

let server
let browser
let smtp
let maildir
let olga // owner
let bob // editor in Olga's workspace
const contexts = []

/** A free loopback port. */
function freePort() {
  return new Promise((ok) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => ok(port))
    })
  })
}

/** aiosmtpd (installed into target/py-smtp by scripts/install-smtp-server.sh) on `port`. */
async function startSmtp(port) {
  maildir = join(mkdtempSync(join(tmpdir(), 'creo-mail-')), 'maildir')
  smtp = spawn('python3', ['-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${port}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], {
    env: { ...process.env, PYTHONPATH: join(root, 'target/py-smtp') },
    stdio: 'ignore',
  })
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((ok) => {
      const c = require('node:net').connect(port, '127.0.0.1', () => (c.end(), ok(true)))
      c.on('error', () => ok(false))
    })
    if (up) return
    await new Promise((ok) => setTimeout(ok, 100))
  }
  throw new Error('aiosmtpd did not start')
}
const require = createRequire(import.meta.url)

/** The plain-text bodies of the mail to `to`, read with Python's email parser. */
function mailTo(to) {
  const script = `
import email, email.policy, json, mailbox, sys
out = []
for key, raw in mailbox.Maildir(sys.argv[1], create=False).iteritems():
    m = email.message_from_bytes(raw.as_bytes(), policy=email.policy.default)
    if sys.argv[2] in str(m["To"]):
        out.append(m.get_body(preferencelist=('plain',)).get_content())
print(json.dumps(out))`
  try {
    return JSON.parse(execFileSync('python3', ['-c', script, maildir, to]).toString())
  } catch {
    return []
  }
}


before(async () => {
  const port = await freePort()
  await startSmtp(port)
  server = await startServer({
    CREO_SMTP_URL: `smtp://127.0.0.1:${port}`,
    CREO_MAIL_FROM: 'creo <noreply@creo.test>',
  })
  browser = await launch()
  olga = await person(server.base, 'olga')
  bob = await person(server.base, 'bob')
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
    mails = mailTo(carol.email)
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
