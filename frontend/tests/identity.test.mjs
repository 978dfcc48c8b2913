// Identity in the editor, with email on (a real aiosmtpd): a newcomer confirms their address from
// the emailed link and the notice about it goes; two-step sign-in is set up from its QR page with
// a code this test computes itself, then used at sign-in, once with a code and once with a
// recovery code; and an owner who requires it sends a member without it to set it up.

import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, before, test } from 'node:test'
import { accessibilityProblems, invite, launch, person, rest, screenshot, signIn, startServer } from './harness.mjs'
import { startSmtp, verifyByMail } from './mail.mjs'

let server
let browser
let smtp
const contexts = []

before(async () => {
  smtp = await startSmtp()
  server = await startServer({ CREO_SMTP_URL: smtp.url, CREO_MAIL_FROM: 'creo <noreply@creo.test>' })
  browser = await launch()
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
  smtp?.kill()
})

/** RFC 6238's six-digit code of time step `step`, from the base32 secret an app would read. */
function totp(secret, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = ''
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0')
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)))
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(step))
  const hash = createHmac('sha1', key).update(counter).digest()
  const offset = hash[19] & 0x0f
  return String((hash.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0')
}
const stepNow = () => Math.floor(Date.now() / 30_000)

async function logIn(page, who) {
  await page.getByLabel('Email').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Log in' }).click()
}

test('a newcomer confirms their email from the link, and the notice about it goes', async () => {
  const ann = await person(server.base, 'ann')
  const { context, page } = await signIn(browser, server.base, ann)
  contexts.push(context)
  const notice = page.getByTestId('unverified')
  await notice.waitFor()
  assert.match(await notice.innerText(), new RegExp(`we sent a link to ${ann.email}`))
  await screenshot(page, 'email-unconfirmed')
  assert.deepEqual(await accessibilityProblems(page), [])

  await page.goto(await smtp.linkTo(ann.email, 'verify'))
  await page.getByText('Your email address is confirmed').waitFor()
  await screenshot(page, 'email-confirmed')
  await page.getByRole('link', { name: 'Go to creo' }).click()
  await page.getByRole('heading', { name: 'Documents' }).waitFor()
  await page.waitForTimeout(300)
  assert.equal(await notice.count(), 0, 'no notice once confirmed')
})

test('two-step sign-in is set up from its QR page, then asks for a code or a recovery code', async () => {
  const bo = await person(server.base, 'bo')
  const { context, page } = await signIn(browser, server.base, bo)
  contexts.push(context)
  await page.getByRole('link', { name: bo.name }).click()
  await page.getByRole('heading', { name: 'Two-step sign-in' }).waitFor()
  // The password first: a session alone cannot put its own authenticator on the account.
  const twoStep = page.getByRole('region', { name: 'Two-step sign-in' })
  await twoStep.getByLabel('Your password').fill('not my password')
  await page.getByRole('button', { name: 'Set up two-step sign-in' }).click()
  await twoStep.getByText('wrong password').waitFor()
  await twoStep.getByLabel('Your password').fill(bo.password)
  await page.getByRole('button', { name: 'Set up two-step sign-in' }).click()
  const qr = page.getByRole('img', { name: 'QR code to add creo to an authenticator app' })
  await qr.waitFor()
  assert.ok((await qr.evaluate((img) => img.naturalWidth)) > 0, 'the QR code renders')
  await screenshot(page, 'mfa-setup')
  assert.deepEqual(await accessibilityProblems(page), [])
  const secret = (await page.getByTestId('totp-secret').innerText()).trim()
  await page.getByLabel('Code from the app').fill(totp(secret, stepNow()))
  await page.getByRole('button', { name: 'Turn on' }).click()
  const codes = page.getByTestId('recovery-codes').locator('code')
  await codes.first().waitFor()
  const recovery = await codes.allInnerTexts()
  assert.equal(recovery.length, 10)
  await screenshot(page, 'mfa-recovery-codes')
  await page.getByRole('button', { name: 'I saved them' }).click()
  await page.getByText('recovery codes left').waitFor()

  // Next sign-in: the password, then a code (the next step's: the one just used counts once).
  await page.getByRole('link', { name: 'creo: your documents' }).click()
  await page.getByRole('button', { name: 'Log out' }).click()
  await logIn(page, bo)
  await page.getByRole('heading', { name: 'Two-step sign-in' }).waitFor()
  await screenshot(page, 'mfa-sign-in')
  assert.deepEqual(await accessibilityProblems(page), [])
  await page.getByLabel('Code').fill('000000' === totp(secret, stepNow() + 1) ? '111111' : '000000')
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByText('that code is not right').waitFor()
  await page.getByLabel('Code').fill(totp(secret, stepNow() + 1))
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByRole('heading', { name: 'Documents' }).waitFor()

  // A lost phone: a recovery code, once.
  await page.getByRole('button', { name: 'Log out' }).click()
  await logIn(page, bo)
  await page.getByRole('button', { name: 'Lost your phone? Use a recovery code' }).click()
  await page.getByLabel('Recovery code').fill(recovery[0])
  await page.getByRole('button', { name: 'Continue' }).click()
  await page.getByRole('heading', { name: 'Documents' }).waitFor()
  const status = await rest(server.base, '/users/me/mfa', {
    token: JSON.parse(await page.evaluate(() => localStorage.getItem('creo.session'))).accessToken,
  })
  assert.equal(status.recovery_codes_left, 9)
})

test('an owner requires two-step sign-in, and a member without it is sent to set it up', async () => {
  const olga = await person(server.base, 'olga')
  await verifyByMail(server.base, smtp, olga)
  const cy = await person(server.base, 'cy')
  await invite(server.base, olga, cy, 'editor')
  // Olga turns on her own second factor over REST, then requires it of everyone.
  const owner = { token: olga.tokens.access_token }
  const { secret } = await rest(server.base, '/users/me/mfa/enrolment', {
    method: 'POST',
    ...owner,
    body: { password: olga.password },
  })
  await rest(server.base, '/users/me/mfa/enrolment/confirm', {
    method: 'POST',
    ...owner,
    body: { code: totp(secret, stepNow()) },
  })
  const fresh = await rest(server.base, '/auth/login/mfa', {
    method: 'POST',
    body: {
      challenge: (await rest(server.base, '/auth/login', { method: 'POST', body: { email: olga.email, password: olga.password } }))
        .challenge,
      code: totp(secret, stepNow() + 1),
    },
  })
  await rest(server.base, `/accounts/${olga.tokens.account_id}/security-settings`, {
    method: 'PUT',
    token: fresh.access_token,
    body: { require_mfa: true },
  })

  const { context, page } = await signIn(browser, server.base, cy)
  contexts.push(context)
  // Cy's own workspace is open to him; Olga's sends him to set up two-step sign-in.
  await page.getByLabel('Workspace').selectOption(olga.tokens.account_id)
  await page.getByText('This workspace requires two-step sign-in').waitFor()
  assert.match(page.url(), /#\/security$/)
  await screenshot(page, 'mfa-required')
  await page.getByRole('region', { name: 'Two-step sign-in' }).getByLabel('Your password').fill(cy.password)
  await page.getByRole('button', { name: 'Set up two-step sign-in' }).click()
  const key = (await page.getByTestId('totp-secret').innerText()).trim()
  await page.getByLabel('Code from the app').fill(totp(key, stepNow()))
  await page.getByRole('button', { name: 'Turn on' }).click()
  await page.getByTestId('recovery-codes').waitFor()
  await page.getByRole('button', { name: 'I saved them' }).click()
  await page.getByRole('link', { name: 'creo: your documents' }).click()
  await page.getByRole('heading', { name: 'Documents' }).waitFor()
  await page.getByText('No documents yet.').waitFor()
})
