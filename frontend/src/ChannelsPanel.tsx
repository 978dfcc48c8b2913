import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, post, type Session } from './api'
import { useConfirm } from './Confirm'
import { Alert } from './Alert'
import type { Channel } from './apiTypes'

export const PLATFORM_NAMES: Record<string, string> = {
  webhook: 'Webhook',
  x: 'X',
  linkedin: 'LinkedIn',
  instagram: 'Instagram',
  facebook: 'Facebook Page',
  tiktok: 'TikTok',
  pinterest: 'Pinterest',
  youtube: 'YouTube',
}

/** The platforms a channel connects to through their own sign-in page. */
const PLATFORMS = Object.entries(PLATFORM_NAMES).filter(([platform]) => platform !== 'webhook')

/** The account's channels, as the schedule form and this panel read them. */
export function useChannels(accountId: string) {
  const [channels, setChannels] = useState<Channel[] | null>(null)
  const [error, setError] = useState('')
  const load = useCallback(() => {
    api<Channel[]>(`/accounts/${accountId}/channels`)
      .then((c) => {
        setChannels(c)
        setError('')
      })
      .catch((e: ApiError) => setError(e.message))
  }, [accountId])
  useEffect(load, [load])
  return { channels, error, reload: load }
}

/** What a connection that just came back from the platform says (`?channel_connected`, `?channel_error`). */
function returnedFromPlatform(): [string, string] {
  const q = new URLSearchParams(window.location.search)
  if (q.has('channel_connected')) return ['Channel connected.', '']
  return ['', q.get('channel_error') ?? '']
}

/**
 * Where the workspace publishes. Everyone sees the channels; owners and admins add a webhook
 * (its signing secret is shown once), connect X or LinkedIn (the platform's own sign-in page,
 * then back here), reconnect one whose access ran out, and remove them.
 */
export function ChannelsPanel({ session }: { session: Session }) {
  const { channels, error: loadError, reload } = useChannels(session.accountId)
  const manager = session.role === 'owner' || session.role === 'admin'
  const [[message, returnedError]] = useState(returnedFromPlatform)
  const [flash, setFlash] = useState(message)
  const [error, setError] = useState(returnedError)
  const [secret, setSecret] = useState('')
  const [confirmation, confirm] = useConfirm()
  const base = `/accounts/${session.accountId}/channels`

  async function connect(platform: string, channelId?: string) {
    try {
      const { authorize_url } = await post<{ authorize_url: string }>(`${base}/connect`, {
        platform,
        channel_id: channelId,
      })
      window.location.assign(authorize_url)
    } catch (e) {
      setError((e as ApiError).message)
    }
  }

  async function addWebhook(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const formElement = e.currentTarget
    const form = new FormData(formElement)
    try {
      const made = await post<Channel>(base, { name: form.get('name'), url: form.get('url') })
      setSecret(made.secret ?? '')
      setFlash(`${made.name} added.`)
      setError('')
      formElement.reset()
      reload()
    } catch (err) {
      setError((err as ApiError).message)
    }
  }

  async function remove(c: Channel) {
    if (!(await confirm(`Remove ${c.name}? Posts scheduled to it will fail.`, 'Remove'))) return
    try {
      await api(`${base}/${c.channel_id}`, { method: 'DELETE' })
      setFlash(`${c.name} removed.`)
      reload()
    } catch (e) {
      setError((e as ApiError).message)
    }
  }

  return (
    <section aria-labelledby="channels-title" className="card stack">
      <h2 id="channels-title">Channels</h2>
      {confirmation}
      {channels === null ? (
        <p>{loadError || 'Loading…'}</p>
      ) : channels.length === 0 ? (
        <p className="hint">No channels yet: posts go to the server’s destination.</p>
      ) : (
        <ul className="members">
          {channels.map((c) => (
            <li key={c.channel_id} data-testid="channel">
              <span className="member-name">
                <strong>{c.name}</strong>
                <span className="hint"> {PLATFORM_NAMES[c.platform] ?? c.platform}</span>
              </span>
              {c.status === 'needs_reconnect' ? (
                <span className="badge state-failed" title={c.status_reason ?? ''}>
                  Needs reconnecting
                </span>
              ) : (
                <span className="badge state-published">Active</span>
              )}
              {manager && c.status === 'needs_reconnect' && c.platform !== 'webhook' && (
                <button type="button" onClick={() => connect(c.platform, c.channel_id)}>
                  Reconnect
                </button>
              )}
              {manager && (
                <button type="button" onClick={() => remove(c)}>
                  Remove<span className="visually-hidden"> {c.name}</span>
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {manager && (
        <>
          <div className="row wrap">
            {PLATFORMS.map(([platform, name]) => (
              <button key={platform} type="button" onClick={() => connect(platform)}>
                Connect {name}
              </button>
            ))}
          </div>
          <form onSubmit={addWebhook} className="row wrap" aria-label="Add a webhook channel">
            <label className="inline">
              Webhook name
              <input name="name" required maxLength={100} placeholder="Our CMS" />
            </label>
            <label className="inline">
              URL
              <input name="url" type="url" required placeholder="https://cms.example.com/creo" />
            </label>
            <button type="submit">Add webhook</button>
          </form>
        </>
      )}
      {secret && (
        <p className="hint" data-testid="channel-secret">
          Signing secret (shown once; each post carries <code>Creo-Signature</code> made with it): <code>{secret}</code>
        </p>
      )}
      <p className="flash" role="status" aria-live="polite">
        {flash}
      </p>
      <Alert text={error} />
    </section>
  )
}
