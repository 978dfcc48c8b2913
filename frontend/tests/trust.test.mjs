// What a team has to be able to trust in the editor: a restored version keeps its formatting and
// comments, two tabs stay signed in, and an ended session loses nothing that was typed.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import * as Y from 'yjs'
import {
  editorText,
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
const contexts = []

before(async () => {
  // Access tokens that need a refresh on every call (the editor refreshes with under a minute
  // left), so two tabs refresh at the same moments.
  server = await startServer({ CREO_ACCESS_TOKEN_TTL_SECS: '61' })
  browser = await launch()
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
})

/** `who` signs in and creates a document from the documents list; resolves in its editor. */
async function newDocument(who, title) {
  const { context, page } = await signIn(browser, server.base, who)
  contexts.push(context)
  await page.getByLabel('New document title').fill(title)
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  const docId = page.url().match(/doc\/([^/]+)$/)[1]
  return { context, page, editor: page.locator('.prose[data-field="post"]'), docId }
}

/** The stored post as the server holds it: its paragraphs, with marks as tags. */
async function storedPost(who, docId) {
  const tokens = await rest(server.base, '/auth/login', {
    method: 'POST',
    body: { email: who.email, password: who.password },
  })
  const response = await fetch(`${server.base}/api/v1/documents/${docId}/state`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  })
  const doc = new Y.Doc()
  Y.applyUpdate(doc, new Uint8Array(await response.arrayBuffer()))
  return doc.getXmlFragment('post').toString()
}

test('restoring a version keeps its bold words and the comment on them', async () => {
  const rita = await person(server.base, 'rita')
  const a = await newDocument(rita, 'Restore check')
  await a.editor.click()
  await a.page.keyboard.type('Spring sale ')
  await a.page.keyboard.press('Control+b')
  await a.page.keyboard.type('today only')
  await a.page.keyboard.press('Control+b')
  await a.page.keyboard.type(' at the shop.')
  await waitForSaveState(a.page, 'All changes saved')

  await selectText(a.page, '.prose strong', 0)
  await a.page.getByRole('button', { name: 'Comment on selection' }).click()
  await a.page.getByLabel('Your comment').fill('Is it really one day?')
  await a.page.getByRole('button', { name: 'Comment', exact: true }).click()
  await a.page.locator('.comment-mark', { hasText: 'today only' }).waitFor()

  await a.page.getByRole('tab', { name: 'Versions' }).click()
  await a.page.getByPlaceholder('Name this version').fill('Launch copy')
  await a.page.getByRole('button', { name: 'Save version' }).click()
  await a.page.getByText('Version saved').waitFor()

  await a.editor.click()
  await a.page.keyboard.press('Control+End')
  await a.page.keyboard.type(' Extra words to take back.')
  await waitForSaveState(a.page, 'All changes saved')

  await a.page.locator('.versions li', { hasText: 'Launch copy' }).getByRole('button', { name: 'Restore' }).click()
  // The question is asked in the page, not in the browser's blocking confirm box.
  const dialog = a.page.getByRole('dialog')
  await dialog.getByText('Restore “Launch copy”?').waitFor()
  await screenshot(a.page, 'restore-confirm')
  await dialog.getByRole('button', { name: 'Restore' }).click()
  await a.page.getByText('Restored “Launch copy”').waitFor()
  await a.page.waitForFunction(() => !document.querySelector('.prose')?.textContent?.includes('Extra words'))

  assert.equal(await editorText(a.page), 'Spring sale today only at the shop.')
  assert.equal(await a.page.locator('.prose strong').innerText(), 'today only', 'the bold phrase is still bold')
  const stored = await storedPost(rita, a.docId)
  assert.ok(!stored.includes('&lt;'), `no escaped tags in the stored post: ${stored}`)
  assert.match(stored, /<bold>today only<\/bold>/)

  // The comment still sits on its words, for the author and in the thread.
  await a.page.getByRole('tab', { name: 'Comments' }).click()
  await a.page.locator('.comment-mark', { hasText: 'today only' }).waitFor()
  const thread = a.page.locator('.thread', { hasText: 'Is it really one day?' })
  assert.ok(!(await thread.innerText()).includes('text deleted'), await thread.innerText())
  await screenshot(a.page, 'restore-keeps-formatting')
})

test('two tabs of one browser, past their token lifetime, stay signed in', async () => {
  const tess = await person(server.base, 'tess')
  const a = await newDocument(tess, 'Two tabs')
  const second = await a.context.newPage()
  await second.goto(a.page.url())
  await waitForSaveState(second, 'All changes saved')

  // Each round both tabs call the API at once with a token that is due for refresh.
  for (let round = 0; round < 4; round++) {
    await new Promise((ok) => setTimeout(ok, 1_200))
    await Promise.all(
      [a.page, second].map(async (p) => {
        await p.getByRole('tab', { name: round % 2 ? 'Comments' : 'Versions' }).click()
      }),
    )
    await Promise.all([a.page, second].map((p) => p.getByRole('heading', { name: round % 2 ? 'Comments' : 'Versions' }).waitFor()))
  }
  await a.editor.click()
  await a.page.keyboard.type('Still signed in.')
  await waitForText(second, 'Still signed in.')
  for (const p of [a.page, second]) {
    assert.equal(await p.getByRole('heading', { name: 'Log in' }).count(), 0, 'no tab was sent to the login page')
    assert.equal(await p.getByTestId('connection-closed').count(), 0)
  }
})

test('a session ended under an open document keeps what was typed and sends it after signing in again', async () => {
  const uma = await person(server.base, 'uma')
  const a = await newDocument(uma, 'Ended session')
  await a.editor.click()
  await a.page.keyboard.type('Saved line.')
  await waitForSaveState(a.page, 'All changes saved')

  await a.context.setOffline(true)
  await waitForSaveState(a.page, 'Offline')
  await a.page.keyboard.type(' Typed while offline.')

  // The session is revoked elsewhere (a lost device, say) while this tab is offline.
  const sessions = await rest(server.base, '/auth/sessions', { token: uma.tokens.access_token })
  for (const s of sessions.filter((s) => /Chrome/.test(s.user_agent))) {
    await rest(server.base, `/auth/sessions/${s.session_id}`, { method: 'DELETE', token: uma.tokens.access_token })
  }
  await a.context.setOffline(false)

  const notice = a.page.getByTestId('connection-closed')
  await notice.waitFor({ timeout: 20_000 })
  assert.match(await notice.innerText(), /session ended.*kept in this browser/is)
  assert.equal(await a.page.getByRole('button', { name: 'Submit for review' }).count(), 0, 'no moves either')
  assert.equal(await a.editor.getAttribute('contenteditable'), 'false', 'read-only')
  assert.equal(await editorText(a.page), 'Saved line. Typed while offline.', 'the text stays on screen')
  const kept = await a.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('creo.unsent.')))
  assert.equal(kept.length, 1, 'the unsent edit is kept in this browser')
  await screenshot(a.page, 'session-ended')
  assert.ok(!(await storedPost(uma, a.docId)).includes('offline'), 'it did not reach the server')

  await a.page.getByRole('button', { name: 'Sign in again' }).click()
  await a.page.getByText('Your session ended').waitFor()
  await logInAgain(a.page, uma)
  await waitForSaveState(a.page, 'All changes saved')
  await waitForText(a.page, 'Typed while offline.')
  for (let i = 0; i < 50 && !(await storedPost(uma, a.docId)).includes('offline'); i++) {
    await new Promise((ok) => setTimeout(ok, 200))
  }
  assert.match(await storedPost(uma, a.docId), /Saved line\. Typed while offline\./)
  assert.deepEqual(
    await a.page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('creo.unsent.'))),
    [],
    'sent, so no longer kept',
  )
})
