// The brand kit beside the post: a manager sets the colours, hashtags and voice from the Brand
// tab and adds a real font file (Debian's DejaVu), which the page then draws in; a viewer sees
// the same kit and changes nothing; a save made against an old revision is reloaded, not
// written over the other person's change.

import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { accessibilityProblems, invite, launch, person, rest, screenshot, signIn, startServer, waitForSaveState } from './harness.mjs'

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'

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

test('a manager sets the brand kit and adds a font the page draws in; a viewer sees it and changes nothing', async () => {
  const { context, page } = await signIn(browser, server.base, ava)
  contexts.push(context)
  await page.getByLabel('New document title').fill('Spring launch')
  await page.getByRole('button', { name: 'Create' }).click()
  await waitForSaveState(page, 'All changes saved')
  await page.getByRole('tab', { name: 'Brand' }).click()
  await page.getByText('No brand kit yet').waitFor()

  await page.getByRole('button', { name: 'Edit brand kit' }).click()
  await page.getByLabel('Colours, one per line: name and #hex').fill('Primary #1A2B3C\nSun #fa0')
  await page.getByLabel('Hashtags').fill('creo, #spring_launch')
  await page.getByLabel('Voice').fill('Warm, brief, never shouty.')
  await page.getByRole('button', { name: 'Save brand kit' }).click()
  await page.getByRole('status').filter({ hasText: 'The brand kit is saved.' }).waitFor()
  const colours = page.getByTestId('brand-color')
  assert.deepEqual((await colours.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ')), ['Primary #1a2b3c', 'Sun #ffaa00'])
  assert.equal(await page.getByTestId('brand-hashtags').innerText(), '#creo #spring_launch')
  const swatch = await colours.first().locator('.swatch').evaluate((e) => getComputedStyle(e).backgroundColor)
  assert.equal(swatch, 'rgb(26, 43, 60)')

  await page.locator('.brand-panel input[type=file]').setInputFiles(FONT)
  await page.getByRole('status').filter({ hasText: 'DejaVu Sans Bold is in the brand kit.' }).waitFor()
  const font = page.getByTestId('brand-font')
  await page.locator('[data-testid=brand-font][data-loaded=yes]').waitFor()
  assert.match(await font.innerText(), /Aa DejaVu Sans\s+Bold, 700/)
  const drawnIn = await font.locator('span').first().evaluate((e) => {
    const family = getComputedStyle(e).fontFamily.split(',')[0].trim()
    return document.fonts.check(`700 16px ${family}`) && family.startsWith('brand-fnt_')
  })
  assert.ok(drawnIn, 'the sample is drawn in the uploaded font')
  assert.deepEqual(await accessibilityProblems(page), [])
  await screenshot(page, 'brand-kit')

  // Someone else saves first: the stale save is reloaded, not written over theirs.
  await page.getByRole('button', { name: 'Edit brand kit' }).click()
  await page.getByLabel('Voice').fill('Mine')
  const kit = `/accounts/${ava.tokens.account_id}/brand-kit`
  await rest(server.base, kit, { method: 'PUT', token: ava.tokens.access_token, body: { voice: 'Playful.' } })
  await page.getByRole('button', { name: 'Save brand kit' }).click()
  await page.getByText('Someone changed the brand kit meanwhile').waitFor()
  await page.getByTestId('brand-voice').filter({ hasText: 'Playful.' }).waitFor()

  // The viewer sees the kit, with nothing to change it.
  const docUrl = page.url()
  const v = await signIn(browser, server.base, victor, ava.tokens.account_id)
  contexts.push(v.context)
  await v.page.goto(docUrl)
  await v.page.getByRole('tab', { name: 'Brand' }).click()
  await v.page.getByTestId('brand-color').first().waitFor()
  assert.equal(await v.page.getByTestId('brand-color').count(), 2)
  assert.equal(await v.page.getByRole('button', { name: 'Edit brand kit' }).count(), 0)
})
