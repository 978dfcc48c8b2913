import { useEffect, useState } from 'react'
import { ApiError, postPublic } from './api'
import { useTitle } from './title'

/**
 * What an emailed link opens: it is spent at once (the token is the proof), and the page says
 * what happened. `path` is the API call, `done` what to say when it worked.
 */
function LinkPage({ title, path, token, done }: { title: string; path: string; token: string; done: string }) {
  const [state, setState] = useState<'working' | 'done' | string>('working')
  useTitle(title)
  useEffect(() => {
    postPublic(path, { token })
      .then(() => setState('done'))
      .catch((e) => setState(e instanceof ApiError ? e.message : 'The server could not be reached'))
  }, [path, token])
  return (
    <main className="auth">
      <h1 className="brand">creo</h1>
      <div className="card stack">
        <h2>{title}</h2>
        {state === 'working' ? (
          <p role="status">One moment…</p>
        ) : state === 'done' ? (
          <p className="notice" role="status">
            {done}
          </p>
        ) : (
          <p role="alert" className="error">
            {state}
          </p>
        )}
        <a className="button-link primary" href="#/">
          Go to creo
        </a>
      </div>
    </main>
  )
}

export function VerifyEmail({ token }: { token: string }) {
  return (
    <LinkPage
      title="Confirm your email"
      path="/auth/email/verify"
      token={token}
      done="Your email address is confirmed. Thank you!"
    />
  )
}

export function ConfirmEmailChange({ token }: { token: string }) {
  return (
    <LinkPage
      title="Confirm your new email"
      path="/auth/email/change"
      token={token}
      done="Your account now uses this address. Sign in with it from now on."
    />
  )
}
