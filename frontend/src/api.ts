// The REST client: the signed-in session (kept in this browser's localStorage), every call
// authorised with its access token, which is refreshed before it expires and once more when the
// server says it has.

export type Role = 'owner' | 'admin' | 'editor' | 'commenter' | 'viewer'

export interface Session {
  accessToken: string
  refreshToken: string
  /** Milliseconds since the epoch when the access token expires. */
  expiresAt: number
  userId: string
  email: string
  accountId: string
  role: Role
}

interface Tokens {
  access_token: string
  expires_in: number
  refresh_token: string
  user_id: string
  account_id: string
  role: Role
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
let current: Session | null = JSON.parse(localStorage.getItem(KEY) ?? 'null')
const listeners = new Set<(s: Session | null) => void>()

export function session(): Session | null {
  return current
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

function fromTokens(t: Tokens, email: string): Session {
  return {
    accessToken: t.access_token,
    refreshToken: t.refresh_token,
    expiresAt: Date.now() + t.expires_in * 1000,
    userId: t.user_id,
    email,
    accountId: t.account_id,
    role: t.role,
  }
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
    throw new ApiError(response.status, error.code ?? 'error', error.message ?? response.statusText)
  }
  return body as T
}

/** Signs up, then in: sign-up answers the same whether or not the email had an account. */
export async function register(email: string, password: string, name: string): Promise<void> {
  await parse<unknown>(
    await send('/auth/register', { method: 'POST', body: JSON.stringify({ email, password, name }) }),
  )
  await login(email, password)
}

export async function login(email: string, password: string): Promise<void> {
  const tokens = await parse<Tokens>(
    await send('/auth/login', { method: 'POST', body: JSON.stringify({ email, password }) }),
  )
  setSession(fromTokens(tokens, email))
}

export async function logout(): Promise<void> {
  const s = current
  setSession(null)
  if (s) await send('/auth/logout', { method: 'POST', body: '{}' }, s.accessToken).catch(() => {})
}

let refreshing: Promise<Session> | null = null

/** A new token pair (for `accountId` when given: switching accounts). One refresh at a time. */
export function refresh(accountId?: string): Promise<Session> {
  const s = current
  if (!s) return Promise.reject(new ApiError(401, 'signed_out', 'Please sign in'))
  refreshing ??= (async () => {
    try {
      const response = await send('/auth/refresh', {
        method: 'POST',
        body: JSON.stringify({ refresh_token: s.refreshToken, account_id: accountId }),
      })
      if (response.status === 401) setSession(null)
      const next = fromTokens(await parse<Tokens>(response), s.email)
      setSession(next)
      return next
    } finally {
      refreshing = null
    }
  })()
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

/**
 * A JSON call to `/api/v1{path}`. A 401 refreshes the token and tries once more; a 429 (the
 * account's request rate) waits as long as `Retry-After` says, up to three times.
 */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response = await send(path, init, await accessToken())
  for (let tries = 0; response.status === 429 && tries < 3; tries++) {
    await sleep(Math.min(5, Number(response.headers.get('retry-after')) || 1) * 1000)
    response = await send(path, init, await accessToken())
  }
  if (response.status === 401 && current) {
    response = await send(path, init, (await refresh()).accessToken)
  }
  return parse<T>(response)
}

export const post = <T>(path: string, body: unknown = {}) =>
  api<T>(path, { method: 'POST', body: JSON.stringify(body) })

export const credits = (milli: number) => (milli / 1000).toFixed(2)
