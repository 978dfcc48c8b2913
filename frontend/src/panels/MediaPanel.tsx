import { useCallback, useEffect, useState, type ChangeEvent } from 'react'
import { api, ApiError } from '../api'
import { Alert } from '../Alert'
import { MediumView } from '../editor/MediumView'
import { MEDIUM_DRAG_TYPE, uploadMedium } from '../media'
import type { MediaUsage, Medium } from '../apiTypes'

const ACCEPTED = 'image/png,image/jpeg,image/webp,image/gif,video/mp4,video/quicktime,video/webm'

export const sizeOf = (bytes: number) =>
  bytes >= 1 << 30
    ? `${(bytes / (1 << 30)).toFixed(1)} GB`
    : bytes >= 1 << 20
      ? `${(bytes / (1 << 20)).toFixed(1)} MB`
      : `${bytes ? Math.max(1, Math.round(bytes / 1024)) : 0} KB`

/** What creo measured, in words: "1080 × 1920, 12 s". */
export const measured = (m: Medium) =>
  `${m.width} × ${m.height}${m.duration_ms ? `, ${Math.round(m.duration_ms / 1000)} s` : ''}`

/**
 * The workspace's media library: upload (with progress), search, and each medium ready to drag
 * into the post, or to add with a button for people not using a mouse.
 */
export function MediaPanel({
  accountId,
  canWrite,
  onAdd,
}: {
  accountId: string
  canWrite: boolean
  onAdd: (m: Medium) => void
}) {
  const [media, setMedia] = useState<Medium[] | null>(null)
  const [usage, setUsage] = useState<MediaUsage | null>(null)
  const [query, setQuery] = useState('')
  const [progress, setProgress] = useState<number | null>(null)
  const [offline, setOffline] = useState(false)
  const [error, setError] = useState('')
  const [flash, setFlash] = useState('')

  const load = useCallback(() => {
    const q = query.trim() ? `?q=${encodeURIComponent(query.trim())}` : ''
    api<Medium[]>(`/accounts/${accountId}/media${q}`).then(setMedia, (e: ApiError) => setError(e.message))
    api<MediaUsage>(`/accounts/${accountId}/media-usage`).then(setUsage, () => {})
  }, [accountId, query])
  useEffect(load, [load])

  const upload = async (e: ChangeEvent<HTMLInputElement>) => {
    const files = Array.from(e.target.files ?? [])
    e.target.value = ''
    setError('')
    for (const file of files) {
      setProgress(0)
      try {
        const m = await uploadMedium(accountId, file, setProgress, setOffline)
        setFlash(`“${m.file_name}” is in the library (${measured(m)}).`)
      } catch (err) {
        setError(`“${file.name}”: ${(err as Error).message}`)
      }
    }
    setProgress(null)
    setOffline(false)
    load()
  }

  return (
    <section className="stack media-panel" aria-label="Media library">
      {canWrite && (
        <label className="upload">
          Upload images or videos
          <input type="file" accept={ACCEPTED} multiple onChange={upload} disabled={progress !== null} />
        </label>
      )}
      {progress !== null && (
        <progress max={1} value={progress} aria-label="Upload progress" data-testid="upload-progress">
          {Math.round(progress * 100)}%
        </progress>
      )}
      {progress !== null && offline && (
        <p className="hint" role="status" data-testid="upload-waiting">
          The connection is gone. The upload goes on from where it stopped when it is back.
        </p>
      )}
      {error && <Alert text={error} />}
      <p className="flash" role="status" aria-live="polite">
        {flash}
      </p>
      {usage && (
        <p className="hint" data-testid="media-usage">
          {sizeOf(usage.used_bytes)} used
          {usage.quota_bytes != null ? ` of ${sizeOf(usage.quota_bytes)}` : ''}
        </p>
      )}
      <label>
        Search the library
        <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="file name, tag, alt text" />
      </label>
      {media && media.length === 0 && <p className="hint">No media yet.</p>}
      <ul className="media-grid">
        {media?.map((m) => (
          <li
            key={m.media_id}
            data-testid="library-medium"
            draggable={canWrite}
            onDragStart={(e) => {
              e.dataTransfer.setData(MEDIUM_DRAG_TYPE, m.media_id)
              e.dataTransfer.effectAllowed = 'copy'
            }}
          >
            <MediumView accountId={accountId} medium={m} className="thumb" />
            <span className="medium-name">{m.file_name}</span>
            <span className="hint">
              {measured(m)} · {sizeOf(m.bytes)}
            </span>
            {canWrite && (
              <button type="button" onClick={() => onAdd(m)}>
                Add to post<span className="visually-hidden"> {m.file_name}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  )
}
