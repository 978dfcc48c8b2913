// The editor without the network, as a person on a plane uses it: a document edited offline is
// saved on this device and says so; the tab is closed; the page is opened again still offline
// (the shell from the service worker, the document from IndexedDB, the edit there); back
// online, the edit reaches the server and another person sees it. Signing out removes the
// device's copies.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  editorText,
  invite,
  launch,
  openDocument,
  person,
  screenshot,
  signIn,
  startServer,
  waitForSaveState,
  waitForText,
} from './harness.mjs'

let server
let browser
let ava
let ben
const contexts = []

before(async () => {
  server = await startServer()
  browser = await launch()
  ava = await person(server.base, 'ava')
  ben = await person(server.base, 'ben')
  await invite(server.base, ava, ben, 'editor')
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
})

test('an edit made offline survives a closed tab, opens offline, and reaches the team once online', async () => {
  const { context, page } = await signIn(browser, server.base, ava)
  contexts.push(context)
  await page.getByLabel('New document title').fill('Flight notes')
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  const docUrl = page.url()
  const docId = docUrl.match(/doc\/([^/]+)$/)[1]
  const editor = page.locator('.prose[data-field="post"]')
  await editor.click()
  await page.keyboard.type('Boarding now.')
  await waitForSaveState(page, 'All changes saved')
  // The service worker has the shell before the network goes.
  await page.waitForFunction(async () => {
    const ready = await navigator.serviceWorker.ready
    return ready.active?.state === 'activated' && (await caches.keys()).some((k) => k.startsWith('creo-shell-'))
  })
  const manifest = await page.evaluate(() => fetch('/manifest.webmanifest').then((r) => r.json()))
  assert.equal(manifest.display, 'standalone', 'installable as an app')

  await context.setOffline(true)
  await waitForSaveState(page, 'Offline')
  await editor.click()
  await page.keyboard.press('End')
  await page.keyboard.type(' Wifi is down, still writing.')
  await waitForSaveState(page, 'saved on this device')
  await screenshot(page, 'offline-saved-on-device')
  await page.close()

  // Opened again with no network at all: the page, the editor's code and the document all come
  // from this device.
  const again = await context.newPage()
  const response = await again.goto(docUrl)
  assert.ok(response.fromServiceWorker(), 'the shell came from the service worker')
  await waitForText(again, 'Wifi is down, still writing.')
  assert.equal(await editorText(again), 'Boarding now. Wifi is down, still writing.')
  await again.getByRole('heading', { name: 'Flight notes' }).or(again.getByText('Flight notes')).first().waitFor()
  await waitForSaveState(again, 'saved on this device only')
  await screenshot(again, 'offline-reopened')

  await context.setOffline(false)
  await waitForSaveState(again, 'All changes saved')
  const other = await signIn(browser, server.base, ben, ava.tokens.account_id)
  contexts.push(other.context)
  await openDocument(other.page, docId)
  await waitForText(other.page, 'Wifi is down, still writing.')
  assert.equal(await editorText(other.page), 'Boarding now. Wifi is down, still writing.')

  // Signing out leaves no copy of a document that is saved on the server.
  await again.getByRole('button', { name: 'Log out' }).click()
  await again.getByRole('heading', { name: 'Log in' }).waitFor()
  const kept = await again.evaluate(async () =>
    (await indexedDB.databases()).map((d) => d.name).filter((n) => n.startsWith('creo.doc.')),
  )
  assert.deepEqual(kept, [], 'the device copy is gone')
})
