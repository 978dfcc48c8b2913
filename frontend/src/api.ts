// The REST client: the signed-in session (kept in this browser's localStorage), every call
// authorised with its access token, which is refreshed before it expires and once more when the
// server says it has.

import type { Me, MfaChallenge, Role, Tokens } from './apiTypes'

export type { Role }

export interface Session {
  accessToken: string
  refreshToken: string
  /** Milliseconds since the epoch when the access token expires. */
  expiresAt: number
  userId: string
  email: string
  /** The name given at sign-up, what everyone else sees (absent in sessions kept before names). */
  name?: string
  accountId: string
  role: Role
  /** At sign-in the address still needed confirming (the documents page then says so). */
  unverified?: boolean
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

const KEY = 'creo.session'
const stored = (): Session | null => JSON.parse(localStorage.getItem(KEY) ?? 'null')
let current: Session | null = stored()
const listeners = new Set<(s: Session | null) => void>()

/** Why the last session ended when the server ended it, for the login screen to say. */
let endedBecause = ''

export function session(): Session | null {
  return current
}

export function sessionEndedBecause(): string {
  return endedBecause
}

export function onSession(listener: (s: Session | null) => void): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

function setSession(s: Session | null) {
  current = s
  if (s) localStorage.setItem(KEY, JSON.stringify(s))
  else localStorage.removeItem(KEY)
  listeners.forEach((l) => l(s))
}

// Every tab of this browser shares one session: a refresh, a switch of workspace or a sign-out
// in one tab reaches the others through the storage event.
addEventListener('storage', (e) => {
  if (e.key !== KEY) return
  const next = stored()
  const changed = next?.userId !== current?.userId || next?.accountId !== current?.accountId
  current = next
  if (changed) listeners.forEach((l) => l(next))
})

function fromTokens(t: Tokens, person: Pick<Session, 'email' | 'name' | 'unverified'>): Session {
  return {
    accessToken: t.access_token,
    refreshToken: t.refresh_token,
    expiresAt: Date.now() + t.expires_in * 1000,
    userId: t.user_id,
    accountId: t.account_id,
    role: t.role,
    ...person,
  }
}

/** The address was confirmed since sign-in: the session stops saying otherwise. */
export function markVerified() {
  if (current?.unverified) setSession({ ...current, unverified: false })
}

/** The name a person is shown by: their sign-up name, else the start of their email. */
export function nameOf(s: Session): string {
  return s.name || s.email.split('@')[0]
}

async function send(path: string, init: RequestInit, token?: string): Promise<Response> {
  const headers = new Headers(init.headers)
  if (token) headers.set('authorization', `Bearer ${token}`)
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json')
  return fetch(`/api/v1${path}`, { ...init, headers })
}

async function parse<T>(response: Response): Promise<T> {
  const text = await response.text()
  const body = text ? JSON.parse(text) : undefined
  if (!response.ok) {
    const error = body?.error ?? {}
    // A workspace that requires a second factor answers nothing else until you have one: the
    // security page is where you set it up.
    if (error.code === 'mfa_enrolment_required' && !location.hash.startsWith('#/security'))
      location.hash = '#/security'
    throw new ApiError(response.status, error.code ?? 'error', error.message ?? response.statusText)
  }
  return body as T
}

/** A JSON POST that needs no session (password reset), with the API's errors as `ApiError`. */
export async function postPublic(path: string, body: unknown): Promise<void> {
  await parse<unknown>(await send(path, { method: 'POST', body: JSON.stringify(body) }))
}

/** Signs up, then in: sign-up answers the same whether or not the email had an account. */
export async function register(email: string, password: string, name: string): Promise<void> {
  await parse<unknown>(
    await send('/auth/register', { method: 'POST', body: JSON.stringify({ email, password, name }) }),
  )
  await login(email, password)
}

/**
 * Signs in with a password. A person with a second factor gets a challenge back instead of a
 * session: `secondStep` trades it, with a code, for the session.
 */
export async function login(email: string, password: string, accountId?: string): Promise<{ challenge?: string }> {
  const response = await send('/auth/login', {
    method: 'POST',
    body: JSON.stringify({ email, password, account_id: accountId }),
  })
  if (response.status === 202) return { challenge: (await parse<MfaChallenge>(response)).challenge }
  await signedIn(await parse<Tokens>(response), email)
  return {}
}

/** The second step of a sign-in: a code from the authenticator app, or one recovery code. */
export async function secondStep(
  email: string,
  challenge: string,
  proof: { code: string } | { recovery_code: string },
): Promise<void> {
  const response = await send('/auth/login/mfa', { method: 'POST', body: JSON.stringify({ challenge, ...proof }) })
  await signedIn(await parse<Tokens>(response), email)
}

async function signedIn(tokens: Tokens, email: string): Promise<void> {
  const me = await send('/users/me', {}, tokens.access_token)
    .then((r) => parse<Me>(r))
    .catch(() => null)
  endedBecause = ''
  const unverified = !!me && me.verification_required && !me.email_verified
  setSession(fromTokens(tokens, { email, name: me?.name ?? '', unverified }))
}

export async function logout(): Promise<void> {
  const s = current
  endedBecause = ''
  setSession(null)
  if (s) await send('/auth/logout', { method: 'POST', body: '{}' }, s.accessToken).catch(() => {})
}

let refreshing: Promise<Session> | null = null

/** Runs `task` while holding this browser's refresh lock (all tabs), where the browser has one. */
async function exclusively<T>(task: () => Promise<T>): Promise<T> {
  return navigator.locks ? await navigator.locks.request('creo.refresh', task) : task()
}

/**
 * A new token pair (for `accountId` when given: switching accounts). One refresh at a time in
 * the whole browser: a tab that waited for another tab's refresh takes its result instead of
 * spending the same refresh token again.
 */
export function refresh(accountId?: string): Promise<Session> {
  if (!current) return Promise.reject(new ApiError(401, 'signed_out', 'Please sign in'))
  const before = current.refreshToken
  refreshing ??= exclusively(async () => {
    try {
      const latest = stored()
      if (!latest) throw new ApiError(401, 'signed_out', 'Please sign in')
      const fresh = latest.refreshToken !== before && latest.expiresAt - Date.now() > 60_000
      if (fresh && (!accountId || latest.accountId === accountId)) {
        current = latest
        return latest
      }
      const response = await send('/auth/refresh', {
        method: 'POST',
        body: JSON.stringify({ refresh_token: latest.refreshToken, account_id: accountId }),
      })
      if (response.status === 401) {
        endedBecause = 'Your session ended (signed out elsewhere, or revoked). Please sign in again.'
        setSession(null)
      }
      const { email, name, unverified } = latest
      const next = fromTokens(await parse<Tokens>(response), { email, name, unverified })
      setSession(next)
      return next
    } finally {
      refreshing = null
    }
  })
  return refreshing
}

/** The access token, refreshed first when it has less than a minute left. */
export async function accessToken(): Promise<string> {
  const s = current
  if (!s) throw new ApiError(401, 'signed_out', 'Please sign in')
  if (s.expiresAt - Date.now() < 60_000) return (await refresh()).accessToken
  return s.accessToken
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms))

/** Refusals of what the person typed (a password, a code), not of the token or the rate: sending
 * the same answer again would only count it wrong twice. */
const typedWrong = new Set(['invalid_credentials', 'invalid_mfa_code', 'too_many_attempts'])

const errorCode = (response: Response): Promise<string | undefined> =>
  response
    .clone()
    .json()
    .then((body) => body?.error?.code, () => undefined)

/**
 * A JSON call to `/api/v1{path}`. A 401 refreshes the token and tries once more; a 429 (the
 * account's request rate) waits as long as `Retry-After` says, up to three times. Neither is
 * retried when it refuses what the person typed.
 */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  return parse<T>(await authorised(path, init))
}

/** Bytes from `/api/v1{path}` (a medium's content), authorised and retried like `api`. */
export async function apiBlob(path: string): Promise<Blob> {
  const response = await authorised(path, {})
  if (!response.ok) await parse(response)
  return response.blob()
}

/** `path` sent with the session's token: a 429 waited out, a 401 refreshed once. */
async function authorised(path: string, init: RequestInit): Promise<Response> {
  let response = await send(path, init, await accessToken())
  for (let tries = 0; response.status === 429 && tries < 3; tries++) {
    if (typedWrong.has((await errorCode(response)) ?? '')) break
    await sleep(Math.min(5, Number(response.headers.get('retry-after')) || 1) * 1000)
    response = await send(path, init, await accessToken())
  }
  if (response.status === 401 && current && !typedWrong.has((await errorCode(response)) ?? '')) {
    response = await send(path, init, (await refresh()).accessToken)
  }
  return response
}

/** A POST answered with binary (a Yjs update), authorised and refreshed like `api`. */
export async function postForBytes(path: string, body: unknown): Promise<Uint8Array> {
  const init = { method: 'POST', body: JSON.stringify(body) }
  let response = await send(path, init, await accessToken())
  if (response.status === 401 && current) response = await send(path, init, (await refresh()).accessToken)
  if (!response.ok) await parse(response)
  return new Uint8Array(await response.arrayBuffer())
}

export const post = <T>(path: string, body: unknown = {}) =>
  api<T>(path, { method: 'POST', body: JSON.stringify(body) })

export const credits = (milli: number) => (milli / 1000).toFixed(2)
