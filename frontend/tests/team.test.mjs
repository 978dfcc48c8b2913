// A team in the editor: invitations that say who and where, links across workspaces, titles as
// people write them, names instead of ids, and comments that hold up while others type.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  editorText,
  invite,
  launch,
  logInAgain,
  person,
  rest,
  screenshot,
  selectText,
  signIn,
  startServer,
  waitForSaveState,
  waitForText,
} from './harness.mjs'

let server
let browser
let olga // owner
let bob // editor in Olga's workspace, with a workspace of his own
const contexts = []

before(async () => {
  server = await startServer()
  browser = await launch()
  olga = await person(server.base, 'olga')
  bob = await person(server.base, 'bob')
  await invite(server.base, olga, bob, 'editor')
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
})

/** Waits until the post reads exactly `text` (other people's carets left out). */
async function readsAs(page, text) {
  for (let i = 0; i < 75 && (await editorText(page)) !== text; i++) await page.waitForTimeout(200)
  assert.equal(await editorText(page), text)
}

async function signedIn(who, account, device) {
  const { context, page } = await signIn(browser, server.base, who, account, device)
  contexts.push(context)
  return { context, page }
}

/** Creates a document from the documents list; resolves on its editor with its id. */
async function create(page, title) {
  await page.getByLabel('New document title').fill(title)
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  return page.url().match(/doc\/([^/]+)$/)[1]
}

test('an invitation names who invites, to which workspace and role, and lands the newcomer there', async () => {
  const { context, page } = await signedIn(olga)
  await context.grantPermissions(['clipboard-read', 'clipboard-write'])
  await create(page, 'Team plan')
  await page.goto(`${server.base}/#/`)
  const email = `pete.${Date.now()}@example.com`
  await page.getByRole('textbox', { name: 'Email' }).fill(email)
  await page.getByRole('combobox', { name: 'Role', exact: true }).selectOption('commenter')
  await page.getByRole('button', { name: 'Invite' }).click()
  await page.getByRole('button', { name: 'Copy link' }).click()
  await page.getByRole('button', { name: 'Copied' }).waitFor()
  const link = await page.evaluate(() => navigator.clipboard.readText())
  assert.match(link, /#\/invite\//)

  // Pete has no account yet: the link says what it is, and he signs up right there.
  const guest = await browser.newContext({ viewport: { width: 1280, height: 860 } })
  contexts.push(guest)
  const pete = await guest.newPage()
  await pete.goto(link)
  const card = pete.getByTestId('invitation')
  await card.waitFor()
  assert.equal(
    await card.innerText(),
    `${olga.name} invites you to join ${olga.name}'s workspace as a commenter (reads and comments).`,
  )
  assert.equal(await pete.getByLabel('Email').inputValue(), email, 'the invited address is filled in')
  await screenshot(pete, 'invitation-signed-out')
  await pete.getByLabel('Your name').fill('Pete Novak')
  await pete.getByLabel('Password').fill('correct horse battery staple')
  await pete.getByRole('button', { name: 'Sign up' }).click()
  await pete.getByRole('button', { name: `Join ${olga.name}'s workspace` }).click()
  await pete.getByRole('heading', { name: 'Documents' }).waitFor()
  await pete.getByRole('link', { name: 'Team plan' }).waitFor()
  assert.equal(await pete.getByLabel('Workspace').locator('option:checked').innerText(), `${olga.name}'s workspace (commenter)`)

  // Olga sees him by name, changes his role and removes him, all in the page.
  await page.reload()
  const row = page.getByTestId('member').filter({ hasText: 'Pete Novak' })
  await row.waitFor()
  await row.getByRole('combobox').selectOption('viewer')
  await page.getByText('Pete Novak is now viewer').waitFor()
  await screenshot(page, 'members')
  await row.getByRole('button', { name: 'Remove' }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click()
  await row.waitFor({ state: 'detached' })
  const members = await rest(server.base, `/accounts/${olga.tokens.account_id}/members`, { token: olga.tokens.access_token })
  assert.ok(!members.some((m) => m.name === 'Pete Novak'))
})

test('a link into another workspace of yours switches to it; a mistyped one creates nothing', async () => {
  const o = await signedIn(olga)
  const docId = await create(o.page, 'Shared launch')
  const link = o.page.url()
  assert.match(link, new RegExp(`#/w/${olga.tokens.account_id}/doc/${docId}$`))

  // Bob is in his own workspace when he follows the link.
  const b = await signedIn(bob)
  await b.page.goto(link)
  await waitForSaveState(b.page, 'All changes saved')
  assert.equal(await b.page.getByLabel('Document title').inputValue(), 'Shared launch')
  await b.page.locator('.prose[data-field="post"]').click()
  await b.page.keyboard.type('Bob was here.')
  await waitForText(o.page, 'Bob was here.')

  const before = await rest(server.base, '/documents', { token: bob.tokens.access_token })
  await b.page.goto(`${server.base}/#/doc/d_no_such_document`)
  await b.page.getByTestId('not-found').waitFor()
  assert.equal(await b.page.title(), 'Not found · creo')
  await screenshot(b.page, 'not-found')
  const afterwards = await rest(server.base, '/documents', { token: bob.tokens.access_token })
  assert.equal(afterwards.documents.length, before.documents.length, 'nothing was created')
})

test('titles are any Unicode, may repeat, and a rename reaches the other person at once', async () => {
  const o = await signedIn(olga)
  const first = await create(o.page, '春のセール')
  await o.page.goto(`${server.base}/#/`)
  const second = await create(o.page, '春のセール')
  assert.notEqual(first, second)
  assert.equal(await o.page.title(), '春のセール · creo')

  const b = await signedIn(bob, olga.tokens.account_id)
  await b.page.goto(o.page.url())
  await waitForSaveState(b.page, 'All changes saved')
  const title = o.page.getByLabel('Document title')
  await title.fill('Spring launch!')
  await title.press('Enter')
  await b.page.waitForFunction(() => document.title === 'Spring launch! · creo')
  assert.equal(await b.page.getByLabel('Document title').inputValue(), 'Spring launch!')

  await o.page.goto(`${server.base}/#/`)
  await o.page.getByRole('link', { name: 'Spring launch!' }).waitFor()
  assert.equal(await o.page.getByRole('link', { name: '春のセール' }).count(), 1)
  await screenshot(o.page, 'documents-with-titles')
})

test('a post is duplicated into a new draft that opens with its text and title', async () => {
  const o = await signedIn(olga)
  const original = await create(o.page, 'Weekend market')
  await o.page.locator('.prose[data-field="post"]').click()
  await o.page.keyboard.type('Stalls open at eight.')
  await waitForSaveState(o.page, 'All changes saved')
  await o.page.getByRole('button', { name: 'Duplicate' }).click()
  await o.page.waitForFunction((id) => !location.hash.endsWith(`/doc/${id}`), original)
  await waitForSaveState(o.page, 'All changes saved')
  await readsAs(o.page, 'Stalls open at eight.')
  assert.equal(await o.page.getByLabel('Document title').inputValue(), 'Copy of Weekend market')
  await o.page.waitForFunction(() => document.title === 'Copy of Weekend market · creo')
  await screenshot(o.page, 'duplicated')
})

test('people are named, never by id: comments, versions, presence and the header', async () => {
  const o = await signedIn(olga)
  await create(o.page, 'Names')
  const b = await signedIn(bob, olga.tokens.account_id)
  await b.page.goto(o.page.url())
  await waitForSaveState(b.page, 'All changes saved')
  await b.page.locator('.prose[data-field="post"]').click()
  await b.page.keyboard.type('Bob writes a line.')
  await waitForText(o.page, 'Bob writes a line.')
  await selectText(b.page, '.prose p', 0, 3)
  await b.page.getByRole('button', { name: 'Comment on selection' }).click()
  await b.page.getByLabel('Your comment').fill('Shall we say Rob?')
  await b.page.getByRole('button', { name: 'Comment', exact: true }).click()
  await o.page.getByText('Shall we say Rob?').waitFor()
  await o.page.getByRole('tab', { name: 'Versions' }).click()
  await o.page.getByPlaceholder('Name this version').fill('First draft')
  await o.page.getByRole('button', { name: 'Save version' }).click()
  await o.page.getByText('Version saved').waitFor()
  // Bob leaves: his name stays on what he did.
  await b.context.close()

  await o.page.reload()
  await waitForSaveState(o.page, 'All changes saved')
  const thread = o.page.locator('.thread', { hasText: 'Shall we say Rob?' })
  assert.match(await thread.innerText(), new RegExp(bob.name))
  assert.match(await thread.locator('time').innerText(), /2\d{3}/, 'the date is shown, not only the time')
  await o.page.getByRole('tab', { name: 'Versions' }).click()
  const version = o.page.locator('.versions li', { hasText: 'First draft' })
  assert.match(await version.innerText(), new RegExp(`changes by .*${bob.name}`))
  assert.ok(!/u_[0-9a-f]{6}/.test(await o.page.locator('body').innerText()), 'no user id on screen')
  assert.equal(await o.page.locator('.who').innerText(), olga.name)
  await screenshot(o.page, 'names')
})

test('comment highlights survive the other person typing, drafts survive failures, and @ finds people', async () => {
  const o = await signedIn(olga)
  await create(o.page, 'Comments')
  await o.page.locator('.prose[data-field="post"]').click()
  await o.page.keyboard.type('The new bottle keeps drinks cold.')
  await waitForSaveState(o.page, 'All changes saved')
  const b = await signedIn(bob, olga.tokens.account_id)
  await b.page.goto(o.page.url())
  await waitForText(b.page, 'keeps drinks cold')

  await selectText(o.page, '.prose p', 8, 14)
  await o.page.getByRole('button', { name: 'Comment on selection' }).click()
  // Offline, the comment cannot be sent: it says so and the text stays.
  await o.context.setOffline(true)
  const box = o.page.getByLabel('Your comment')
  await box.fill('Which bottle, ')
  await box.press('End')
  await box.pressSequentially('@bo')
  const options = o.page.getByRole('option')
  await options.filter({ hasText: bob.name }).waitFor()
  await screenshot(o.page, 'mention-picker')
  await box.press('Enter')
  assert.equal(await box.inputValue(), `Which bottle, @${bob.name} `)
  await box.press('Control+Enter')
  await o.page.getByText('Not sent').waitFor()
  assert.equal(await box.inputValue(), `Which bottle, @${bob.name} `, 'the draft is kept')
  await o.context.setOffline(false)
  await waitForSaveState(o.page, 'All changes saved')
  await box.press('Control+Enter')
  await b.page.locator('.mention', { hasText: `@${bob.name}` }).waitFor()
  await b.page.locator('.comment-mark', { hasText: 'bottle' }).waitFor()

  // Bob types before the commented word: the highlight stays on "bottle" for both of them.
  await b.page.locator('.prose[data-field="post"]').click()
  await b.page.keyboard.press('Control+Home')
  await b.page.keyboard.type('Look: ')
  await readsAs(o.page, 'Look: The new bottle keeps drinks cold.')
  await b.page.keyboard.type('really ')
  await readsAs(o.page, 'Look: really The new bottle keeps drinks cold.')
  for (const p of [o.page, b.page]) {
    const mark = p.locator('.comment-mark')
    await mark.waitFor()
    assert.equal(await mark.innerText(), 'bottle')
  }
  assert.equal(await editorText(o.page), 'Look: really The new bottle keeps drinks cold.')
  await screenshot(o.page, 'highlight-after-remote-typing')
})
