import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, post, type Session } from './api'
import { Header } from './DocumentsPage'
import { useTitle } from './title'
import { Alert } from './Alert'
import type { Enrolment, Me, MfaStatus, RecoveryCodes, SecuritySettings } from './apiTypes'

/**
 * Your email address and two-step sign-in, and (for owners) whether the workspace requires it of
 * everyone. A workspace that requires it sends anyone without it here.
 */
export function SecurityPage({ session }: { session: Session }) {
  const [me, setMe] = useState<Me | null>(null)
  const [mfa, setMfa] = useState<MfaStatus | null>(null)
  const [error, setError] = useState('')
  useTitle('Security')

  const load = useCallback(() => {
    api<Me>('/users/me').then(setMe).catch((e: ApiError) => setError(e.message))
    api<MfaStatus>('/users/me/mfa').then(setMfa).catch((e: ApiError) => setError(e.message))
  }, [])
  useEffect(load, [load])

  const requiredHere = mfa?.required_by.includes(session.accountId) && !mfa.enabled
  return (
    <>
      <Header session={session} />
      <main className="documents">
        <h1>Your account</h1>
        <Alert text={error} />
        {requiredHere && (
          <p className="notice" role="status">
            This workspace requires two-step sign-in. Set it up below to get back to its documents.
          </p>
        )}
        {me && <EmailCard me={me} onChange={load} />}
        {mfa && <TwoStepCard status={mfa} onChange={load} />}
        {session.role === 'owner' && mfa && <RequireCard session={session} enabled={mfa.enabled} />}
      </main>
    </>
  )
}

function EmailCard({ me, onChange }: { me: Me; onChange: () => void }) {
  const [message, setMessage] = useState('')
  const [error, setError] = useState('')

  async function act(what: Promise<unknown>, done: string) {
    setError('')
    setMessage('')
    try {
      await what
      setMessage(done)
      onChange()
    } catch (e) {
      setError((e as ApiError).message)
    }
  }

  function change(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const email = String(form.get('email')).trim()
    act(
      api('/users/me/email', {
        method: 'PUT',
        body: JSON.stringify({ email, password: String(form.get('password')) }),
      }),
      `If ${email} is free, a link to confirm it is on its way there. Nothing changes until you follow it.`,
    )
  }

  return (
    <section aria-labelledby="email-title" className="card stack">
      <h2 id="email-title">Email</h2>
      <p>
        <strong>{me.email}</strong>{' '}
        {me.email_verified ? (
          <span className="badge state-approved">Confirmed</span>
        ) : me.verification_required ? (
          <span className="badge state-in_review">Not confirmed</span>
        ) : null}
      </p>
      {!me.email_verified && me.verification_required && (
        <div className="row wrap">
          <p className="hint grow">
            Until you follow the link we mailed you, you can edit but spend only a few credits and invite nobody.
          </p>
          <button type="button" onClick={() => act(post('/users/me/email/verification'), 'A new link is on its way.')}>
            Send the link again
          </button>
        </div>
      )}
      {me.verification_required && (
        <form onSubmit={change} className="stack card-inset">
          <h3>Change your email</h3>
          <label>
            New email
            <input name="email" type="email" autoComplete="email" required />
          </label>
          <label>
            Your password
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          <button type="submit">Send a confirmation link</button>
        </form>
      )}
      {message && (
        <p className="notice" role="status">
          {message}
        </p>
      )}
      <Alert text={error} />
    </section>
  )
}

function TwoStepCard({ status, onChange }: { status: MfaStatus; onChange: () => void }) {
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null)
  const [codes, setCodes] = useState<string[] | null>(null)
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  async function run<T>(what: () => Promise<T>): Promise<T | undefined> {
    setBusy(true)
    setError('')
    try {
      return await what()
    } catch (e) {
      setError((e as ApiError).message)
    } finally {
      setBusy(false)
    }
  }

  async function confirm(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const code = String(new FormData(e.currentTarget).get('code')).replace(/\s/g, '')
    const done = await run(() => post<RecoveryCodes>('/users/me/mfa/enrolment/confirm', { code }))
    if (done) {
      setEnrolment(null)
      setCodes(done.recovery_codes)
      onChange()
    }
  }

  async function withProof(e: FormEvent<HTMLFormElement>, what: 'disable' | 'codes') {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const typed = String(form.get('code')).trim()
    // Digits are a code from the app; anything else is one of the recovery codes.
    const proof = /^[0-9 ]+$/.test(typed) ? { code: typed.replace(/\s/g, '') } : { recovery_code: typed }
    const body = JSON.stringify({ password: String(form.get('password')), ...proof })
    const done = await run(() =>
      what === 'disable'
        ? api('/users/me/mfa', { method: 'DELETE', body })
        : api<RecoveryCodes>('/users/me/mfa/recovery-codes', { method: 'POST', body }),
    )
    if (done === undefined) return
    if (what === 'codes') setCodes((done as RecoveryCodes).recovery_codes)
    onChange()
  }

  return (
    <section aria-labelledby="mfa-title" className="card stack">
      <h2 id="mfa-title">Two-step sign-in</h2>
      {codes && (
        <div className="notice stack" role="status" data-testid="recovery-codes">
          <p>
            <strong>Save these recovery codes now.</strong> Each signs you in once if you lose your phone; they are not
            shown again.
          </p>
          <ul className="codes">
            {codes.map((c) => (
              <li key={c}>
                <code>{c}</code>
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => setCodes(null)}>
            I saved them
          </button>
        </div>
      )}
      {status.enabled ? (
        <>
          <p>
            <span className="badge state-approved">On</span> You sign in with your password and a code from your
            authenticator app. {status.recovery_codes_left} recovery codes left.
          </p>
          <ProofForm label="Make new recovery codes" busy={busy} onSubmit={(e) => withProof(e, 'codes')} />
          <ProofForm label="Turn two-step sign-in off" busy={busy} onSubmit={(e) => withProof(e, 'disable')} />
        </>
      ) : enrolment ? (
        <form onSubmit={confirm} className="stack">
          <p>Scan this code with an authenticator app (or type the key into it), then enter the code it shows.</p>
          <img
            className="qr"
            src={`data:image/svg+xml;utf8,${encodeURIComponent(enrolment.qr_svg)}`}
            alt="QR code to add creo to an authenticator app"
            width={200}
            height={200}
          />
          <p className="hint">
            Key: <code data-testid="totp-secret">{enrolment.secret}</code>
          </p>
          <label>
            Code from the app
            <input name="code" autoComplete="one-time-code" inputMode="numeric" maxLength={7} required />
          </label>
          <button type="submit" className="primary" disabled={busy}>
            Turn on
          </button>
        </form>
      ) : (
        <form
          className="stack"
          onSubmit={async (e) => {
            e.preventDefault()
            const password = String(new FormData(e.currentTarget).get('password'))
            const made = await run(() => post<Enrolment>('/users/me/mfa/enrolment', { password }))
            if (made) setEnrolment(made)
          }}
        >
          <p className="hint">
            Keep your account safe even if your password leaks: sign in with a code from an app on your phone as well.
          </p>
          <div className="row">
            <label className="grow">
              Your password
              <input name="password" type="password" autoComplete="current-password" required />
            </label>
            <button type="submit" className="primary" disabled={busy}>
              Set up two-step sign-in
            </button>
          </div>
        </form>
      )}
      <Alert text={error} />
    </section>
  )
}

function ProofForm({
  label,
  busy,
  onSubmit,
}: {
  label: string
  busy: boolean
  onSubmit: (e: FormEvent<HTMLFormElement>) => void
}) {
  return (
    <details className="card-inset">
      <summary>{label}</summary>
      <form onSubmit={onSubmit} className="stack">
        <label>
          Your password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <label>
          Code from the app, or a recovery code
          <input name="code" autoComplete="one-time-code" maxLength={32} required />
        </label>
        <button type="submit" disabled={busy}>
          {label}
        </button>
      </form>
    </details>
  )
}

function RequireCard({ session, enabled }: { session: Session; enabled: boolean }) {
  const [settings, setSettings] = useState<SecuritySettings | null>(null)
  const [error, setError] = useState('')
  const path = `/accounts/${session.accountId}/security-settings`
  useEffect(() => {
    api<SecuritySettings>(path).then(setSettings).catch((e: ApiError) => setError(e.message))
  }, [path])
  if (!settings) return null

  async function toggle(require_mfa: boolean) {
    setError('')
    try {
      setSettings(await api<SecuritySettings>(path, { method: 'PUT', body: JSON.stringify({ require_mfa }) }))
    } catch (e) {
      setError((e as ApiError).message)
    }
  }

  return (
    <section aria-labelledby="require-title" className="card stack">
      <h2 id="require-title">Workspace</h2>
      <label className="inline">
        <input
          type="checkbox"
          checked={settings.require_mfa}
          disabled={!enabled && !settings.require_mfa}
          onChange={(e) => toggle(e.target.checked)}
        />
        Everyone in this workspace must use two-step sign-in
      </label>
      {!enabled && !settings.require_mfa && <p className="hint">Turn on your own two-step sign-in first.</p>}
      <Alert text={error} />
    </section>
  )
}
