// What interop.mjs and limits.mjs share: their settings from the environment, and waiting.

/** A setting from the environment; exits 2 when it is missing and has no fallback. */
export const env = (k, fallback) => {
  const v = process.env[k] ?? fallback
  if (v === undefined || v === '') { console.error(`missing ${k}`); process.exit(2) }
  return v
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves once `cond()` holds; throws after `ms` milliseconds. */
export async function waitFor (what, cond, ms = 10000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (cond()) return
    await sleep(20)
  }
  throw new Error(`timed out waiting for ${what}`)
}
