// Password reset: the form that asks for a link by email, and the page the emailed link opens
// (#/reset/<token>) to choose a new password. Either answer is the same whether or not the
// email has an account; after a reset every session of the person has ended.

import { useState, type FormEvent } from 'react'
import { ApiError, postPublic } from './api'
import { useTitle } from './title'
import { Alert } from './Alert'

/** Asks for a reset link; `onBack` returns to the log-in form. */
export function ForgotPassword({ email, onBack }: { email?: string; onBack: () => void }) {
  const [sent, setSent] = useState(false)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  useTitle('Reset your password')

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      await postPublic('/auth/password/forgot', { email: String(new FormData(e.currentTarget).get('email')) })
      setSent(true)
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The server could not be reached')
    } finally {
      setBusy(false)
    }
  }

  return (
    <form onSubmit={submit} className="card stack" aria-labelledby="forgot-title">
      <h2 id="forgot-title">Reset your password</h2>
      {sent ? (
        <p className="notice" role="status">
          If this email has an account, a link to choose a new password is on its way. It works once, for an hour.
        </p>
      ) : (
        <>
          <label>
            Email
            <input name="email" type="email" autoComplete="email" defaultValue={email} required />
          </label>
          <Alert text={error} />
          <button type="submit" className="primary" disabled={busy}>
            Email me a link
          </button>
        </>
      )}
      <button type="button" className="link" onClick={onBack}>
        Back to log in
      </button>
    </form>
  )
}

/** The page an emailed reset link opens. */
export function ResetPassword({ token }: { token: string }) {
  const [done, setDone] = useState(false)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  useTitle('Choose a new password')

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const password = String(form.get('password'))
    if (password !== String(form.get('again'))) return setError('The two passwords differ')
    setBusy(true)
    setError('')
    try {
      await postPublic('/auth/password/reset', { token, password })
      setDone(true)
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The server could not be reached')
    } finally {
      setBusy(false)
    }
  }

  return (
    <main className="auth">
      <h1 className="brand">creo</h1>
      <form onSubmit={submit} className="card stack" aria-labelledby="reset-title">
        <h2 id="reset-title">Choose a new password</h2>
        {done ? (
          <>
            <p className="notice" role="status">
              Your password is changed, and every device that was signed in has been signed out.
            </p>
            <a className="button-link primary" href="#/">
              Log in
            </a>
          </>
        ) : (
          <>
            <label>
              New password
              <input name="password" type="password" minLength={10} autoComplete="new-password" required />
            </label>
            <label>
              The same again
              <input name="again" type="password" minLength={10} autoComplete="new-password" required />
            </label>
            <p className="hint">At least 10 characters.</p>
            <Alert text={error} />
            <button type="submit" className="primary" disabled={busy}>
              Change my password
            </button>
          </>
        )}
      </form>
    </main>
  )
}
