import { useCallback, useEffect, useState, type FormEvent } from 'react'
import { api, ApiError, post } from '../api'
import { useConfirm } from '../Confirm'
import { useDirectory } from '../directory'
import { when } from '../format'
import { Alert } from '../Alert'
import type { Version } from '../apiTypes'

/** Named and automatic snapshots; restoring one is a new edit everyone sees, history stays. */
export function VersionsPanel({
  docId,
  canWrite,
  accountId,
  connection,
}: {
  docId: string
  canWrite: boolean
  accountId: string
  connection: number
}) {
  const { nameOf } = useDirectory(accountId)
  const [versions, setVersions] = useState<Version[]>([])
  const [message, setMessage] = useState('')
  const [error, setError] = useState('')
  const [confirmation, confirm] = useConfirm()

  const load = useCallback(() => {
    api<Version[]>(`/documents/${docId}/versions`)
      .then((v) => {
        setVersions([...v].reverse())
        setError('')
      })
      .catch((e: ApiError) => setError(e.message))
  }, [docId, connection])
  useEffect(load, [load])

  async function save(e: FormEvent<HTMLFormElement>) {
    e.preventDefault()
    const form = e.currentTarget
    try {
      await post(`/documents/${docId}/versions`, { name: String(new FormData(form).get('name')) })
      form.reset()
      setMessage('Version saved')
      load()
    } catch (err) {
      setMessage((err as ApiError).message)
    }
  }

  async function restore(v: Version) {
    if (!(await confirm(`Restore “${v.name}”? The current text is kept as a version first.`, 'Restore'))) return
    try {
      await post(`/documents/${docId}/versions/${v.version_id}/restore`)
      setMessage(`Restored “${v.name}”`)
      load()
    } catch (err) {
      setMessage((err as ApiError).message)
    }
  }

  return (
    <section aria-labelledby="versions-title" className="panel">
      <h2 id="versions-title">Versions</h2>
      {confirmation}
      {canWrite && (
        <form onSubmit={save} className="row">
          <label className="grow">
            <span className="visually-hidden">Version name</span>
            <input name="name" placeholder="Name this version" required />
          </label>
          <button type="submit">Save version</button>
        </form>
      )}
      <p role="status" aria-live="polite">
        {message}
      </p>
      <Alert text={error} />
      <ol className="versions">
        {versions.map((v) => (
          <li key={v.version_id}>
            <strong>{v.name}</strong>
            {v.automatic && <span className="badge">automatic</span>}
            <br />
            <time dateTime={new Date(v.created_at).toISOString()}>{when(v.created_at)}</time>
            <span className="hint"> · saved by {nameOf(v.created_by)}</span>
            {v.changed_by.length > 0 && (
              <span className="hint"> · changes by {v.changed_by.map(nameOf).join(', ')}</span>
            )}
            {canWrite && (
              <button type="button" onClick={() => restore(v)}>
                Restore
              </button>
            )}
          </li>
        ))}
      </ol>
    </section>
  )
}

