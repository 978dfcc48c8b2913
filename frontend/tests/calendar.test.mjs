// The publishing calendar as a team uses it: an approved post dragged from "Ready to schedule"
// onto a day is scheduled there, dragged on to another day it moves and keeps its time, and the
// document's own bar says so. A viewer sees the calendar but moves nothing.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { invite, launch, person, rest, screenshot, signIn, startServer, waitForSaveState } from './harness.mjs'

let server
let browser
let ava
let victor
const contexts = []

before(async () => {
  server = await startServer()
  browser = await launch()
  ava = await person(server.base, 'ava')
  victor = await person(server.base, 'victor')
  await invite(server.base, ava, victor, 'viewer')
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
})

/** The cell of day `n` of the month the calendar shows. */
const day = (page, n) =>
  page.locator(`.calendar-grid .day:not(.other-month)`).filter({ has: page.locator('.day-number', { hasText: new RegExp(`^${n}$`) }) })

test('an approved post dragged onto a day is scheduled there, and dragged again it moves', async () => {
  const { context, page } = await signIn(browser, server.base, ava)
  contexts.push(context)
  await page.getByLabel('New document title').fill('Spring launch')
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  await page.locator('.prose[data-field="post"]').click()
  await page.keyboard.type('Spring is here.')
  await waitForSaveState(page, 'All changes saved')
  await page.getByRole('button', { name: 'Submit for review' }).click()
  await page.getByRole('button', { name: 'Approve' }).click()
  await page.getByTestId('workflow-state').filter({ hasText: 'Approved' }).waitFor()
  const docId = decodeURIComponent(page.url().split('/doc/')[1])

  await page.goto(`${server.base}/#/calendar`)
  await page.getByRole('button', { name: 'Next' }).click() // next month: every day is in the future
  const ready = page.getByTestId('ready-post').filter({ hasText: 'Spring launch' })
  await ready.getByRole('link', { name: 'Spring launch' }).dragTo(day(page, 15))
  await page.getByRole('status').filter({ hasText: '“Spring launch” scheduled' }).waitFor()
  const entry = day(page, 15).getByTestId('calendar-entry').filter({ hasText: 'Spring launch' })
  await entry.waitFor()
  assert.match(await entry.innerText(), /09:00/)
  assert.equal(await ready.count(), 0, 'no longer waiting for a time')

  await entry.dragTo(day(page, 22))
  await page.getByRole('status').filter({ hasText: '“Spring launch” moved' }).waitFor()
  await day(page, 22).getByTestId('calendar-entry').filter({ hasText: 'Spring launch' }).waitFor()
  assert.equal(await day(page, 15).getByTestId('calendar-entry').count(), 0)
  await screenshot(page, 'calendar-month')

  const view = await rest(server.base, `/documents/${docId}/workflow`, { token: ava.tokens.access_token })
  assert.equal(view.workflow.state, 'scheduled')
  const at = new Date(view.workflow.scheduled_at)
  assert.equal(at.getDate(), 22, 'on the day it was dropped on')
  assert.equal(at.getHours(), 9, 'keeping its time of day')
  assert.deepEqual(
    view.transitions.map((t) => t.action),
    ['submit', 'approve', 'schedule', 'reschedule'],
  )

  await page.getByRole('button', { name: 'Week' }).click()
  await page.getByRole('button', { name: 'Today' }).click()
  await page.locator('.calendar-grid.week .day').first().waitFor()
  assert.equal(await page.locator('.calendar-grid.week .day').count(), 7)

  // A viewer sees it, and cannot drag it.
  const v = await signIn(browser, server.base, victor, ava.tokens.account_id)
  contexts.push(v.context)
  await v.page.goto(`${server.base}/#/calendar`)
  await v.page.getByRole('button', { name: 'Next' }).click()
  const seen = day(v.page, 22).getByTestId('calendar-entry').filter({ hasText: 'Spring launch' })
  await seen.waitFor()
  assert.equal(await seen.getAttribute('draggable'), 'false')
})
