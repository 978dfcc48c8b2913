// A team's own channel, as a manager uses it: added from the documents page (its signing secret
// shown once), then chosen in the schedule form; "Publish now" sends the post there, signed,
// and the bar shows where it went and how it went. The team's site then reports how the post
// did (signed with the same secret), and the Analytics tab shows it, with a chart.

import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { createServer } from 'node:http'
import { after, before, test } from 'node:test'
import { launch, person, screenshot, signIn, startServer, waitForSaveState } from './harness.mjs'

let server
let browser
let ava
const contexts = []
// The team's CMS: a real HTTP server on the loopback that keeps what it was sent.
let cms
const received = []

before(async () => {
  cms = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(body) })
      res.end('ok')
    })
  })
  await new Promise((ok) => cms.listen(0, '127.0.0.1', ok))
  server = await startServer({ CREO_OUTBOUND_ALLOW: '127.0.0.0/8' })
  browser = await launch()
  ava = await person(server.base, 'ava')
})

after(async () => {
  for (const c of contexts) await c.close().catch(() => {})
  await browser?.close()
  server?.stop()
  cms?.close()
})

test('a manager adds a webhook channel and a post published now goes there, shown per channel', async () => {
  const { context, page } = await signIn(browser, server.base, ava)
  contexts.push(context)
  const panel = page.getByRole('region', { name: 'Channels' })
  await panel.getByText('No channels yet').waitFor()
  await panel.getByLabel('Webhook name').fill('Our CMS')
  await panel.getByLabel('URL').fill(`http://127.0.0.1:${cms.address().port}/creo`)
  await panel.getByRole('button', { name: 'Add webhook' }).click()
  const secret = (await panel.getByTestId('channel-secret').locator('code').last().innerText()).trim()
  assert.match(secret, /^whsec_/, 'the secret is shown once')
  await panel.getByTestId('channel').filter({ hasText: 'Our CMS' }).filter({ hasText: 'Active' }).waitFor()
  await screenshot(page, 'channels-panel')

  await page.getByLabel('New document title').fill('To the CMS')
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  await page.locator('.prose[data-field="post"]').click()
  await page.keyboard.type('Straight to our own site.')
  await waitForSaveState(page, 'All changes saved')
  await page.getByRole('button', { name: 'Submit for review' }).click()
  await page.getByRole('button', { name: 'Approve' }).click()
  await page.getByRole('button', { name: 'Schedule…' }).click()
  await page.getByRole('checkbox', { name: 'Our CMS (Webhook)' }).check()
  await page.getByRole('button', { name: 'Publish now' }).click()
  await page.getByTestId('workflow-state').filter({ hasText: 'Published' }).waitFor()
  const line = page.getByTestId('delivery').filter({ hasText: 'Our CMS' })
  await line.filter({ hasText: 'published' }).waitFor()
  await screenshot(page, 'published-to-channel')

  assert.equal(received.length, 1, 'sent once')
  assert.equal(received[0].body.text, 'Straight to our own site.')
  assert.match(received[0].headers['creo-signature'], /^t=\d+,v1=[0-9a-f]{64}$/)
  assert.ok(received[0].headers['idempotency-key'].endsWith(`:${received[0].body.channel_id}`))

  // The site reports two readings of the post's counters, signed with the channel's secret.
  const { doc_id: docId, channel_id: channelId } = received[0].body
  for (const [impressions, engagements, ago] of [
    [400, 20, 60_000],
    [1200, 90, 0],
  ]) {
    const body = JSON.stringify({ doc_id: docId, at: Date.now() - ago, metrics: { impressions, engagements, clicks: 7 } })
    const t = Math.floor(Date.now() / 1000)
    const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')
    const r = await fetch(`${server.base}/api/v1/accounts/${ava.tokens.account_id}/channels/${channelId}/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'creo-signature': `t=${t},v1=${v1}` },
      body,
    })
    assert.equal(r.status, 202, await r.text())
  }
  await page.getByRole('tab', { name: 'Analytics' }).click()
  const table = page.getByTestId('post-metrics')
  await table.getByRole('row', { name: /Our CMS/ }).filter({ hasText: '1,200' }).waitFor()
  assert.match(await table.innerText(), /7\.5%/, '90 of 1,200')
  assert.equal(await page.locator('#side-panel polyline').count(), 1, 'a line for the channel')
  await screenshot(page, 'post-analytics')
})
