import { useEffect, useMemo, useState, type DragEvent } from 'react'
import { api } from '../api'
import { MEDIUM_DRAG_TYPE } from '../media'
import type { Medium } from '../apiTypes'
import type { Collab } from './collab'
import { MediumView } from './MediumView'

/** A band of the frame the platform's own buttons and captions cover, in % of its sides. */
interface Zone {
  top?: number
  bottom?: number
  right?: number
  height: number
  width?: number
  label: string
}

/** The shapes a post takes on each platform, and what their interface covers (2026 guides). */
const FORMATS: { id: string; label: string; ratio: number; zones: Zone[] }[] = [
  { id: 'instagram-feed', label: 'Instagram feed (4:5)', ratio: 4 / 5, zones: [] },
  {
    id: 'instagram-story',
    label: 'Instagram story or reel (9:16)',
    ratio: 9 / 16,
    zones: [
      { top: 0, height: 14, label: 'profile and close' },
      { bottom: 0, height: 20, label: 'reply and caption' },
    ],
  },
  {
    id: 'tiktok',
    label: 'TikTok (9:16)',
    ratio: 9 / 16,
    zones: [
      { top: 0, height: 8, label: 'tabs' },
      { bottom: 0, height: 20, label: 'caption and sound' },
      { right: 0, top: 40, height: 40, width: 14, label: 'buttons' },
    ],
  },
  {
    id: 'youtube-short',
    label: 'YouTube Short (9:16)',
    ratio: 9 / 16,
    zones: [
      { bottom: 0, height: 20, label: 'title and channel' },
      { right: 0, top: 45, height: 35, width: 14, label: 'buttons' },
    ],
  },
  { id: 'x', label: 'X (16:9)', ratio: 16 / 9, zones: [] },
  { id: 'linkedin', label: 'LinkedIn (1.91:1)', ratio: 1.91, zones: [] },
  { id: 'pinterest', label: 'Pinterest pin (2:3)', ratio: 2 / 3, zones: [{ bottom: 0, height: 10, label: 'title' }] },
]

/** The post's media: the document's root array `media`, each entry naming a library medium. */
const mediaOf = (collab: Collab) => collab.doc.getArray<Record<string, unknown>>('media')

/** Adds a library medium to the post (a Yjs edit like any other: everyone sees it at once). */
export function addMedium(collab: Collab, mediaId: string) {
  const array = mediaOf(collab)
  collab.doc.transact(() => array.push([{ media_id: mediaId }]))
}

/**
 * The media of the post, where library media are dropped, with a preview of how each
 * platform's format crops it and which parts its interface covers.
 */
export function PostMedia({ collab, accountId, canWrite }: { collab: Collab; accountId: string; canWrite: boolean }) {
  const array = useMemo(() => mediaOf(collab), [collab])
  const [entries, setEntries] = useState(() => array.toArray())
  const [library, setLibrary] = useState<Map<string, Medium>>(new Map())
  const [format, setFormat] = useState(FORMATS[1].id)
  const [over, setOver] = useState(false)

  useEffect(() => {
    const changed = () => setEntries(array.toArray())
    array.observe(changed)
    changed()
    return () => array.unobserve(changed)
  }, [array])
  const ids = entries
    .map((e) => (typeof e.media_id === 'string' ? e.media_id : ''))
    .filter(Boolean)
    .join(',')
  useEffect(() => {
    // Only a post that names media needs the library (a page open costs the account's rate).
    if (!ids) return
    api<Medium[]>(`/accounts/${accountId}/media`).then(
      (all) => setLibrary(new Map(all.map((m) => [m.media_id, m]))),
      () => {},
    )
  }, [accountId, ids])

  const accepts = (e: DragEvent) => canWrite && e.dataTransfer.types.includes(MEDIUM_DRAG_TYPE)
  const drop = (e: DragEvent) => {
    setOver(false)
    if (!accepts(e)) return
    e.preventDefault()
    addMedium(collab, e.dataTransfer.getData(MEDIUM_DRAG_TYPE))
  }
  const shape = FORMATS.find((f) => f.id === format) ?? FORMATS[0]
  const named = entries
    .map((e, i) => ({ index: i, medium: typeof e.media_id === 'string' ? library.get(e.media_id) : undefined, id: e.media_id }))
    .filter((e) => e.id)

  return (
    <section className="post-media stack" aria-label="Post media">
      <div
        className={`drop-zone ${over ? 'drop-over' : ''}`}
        data-testid="post-media-drop"
        onDragOver={(e) => {
          if (accepts(e)) {
            e.preventDefault()
            e.dataTransfer.dropEffect = 'copy'
            setOver(true)
          }
        }}
        onDragLeave={() => setOver(false)}
        onDrop={drop}
      >
        {named.length === 0 ? (
          <p className="hint">{canWrite ? 'Drag media from the library here.' : 'This post has no media.'}</p>
        ) : (
          <ul className="post-media-list">
            {named.map(({ index, medium, id }) => (
              <li key={`${index}-${String(id)}`} data-testid="post-medium">
                {medium ? <MediumView accountId={accountId} medium={medium} className="thumb" /> : <span className="hint">{String(id)} (not in the library)</span>}
                {canWrite && (
                  <button type="button" onClick={() => array.delete(index, 1)}>
                    Remove<span className="visually-hidden"> {medium?.file_name ?? String(id)}</span>
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </div>
      {named.length > 0 && (
        <div className="preview stack">
          <label>
            Preview as
            <select value={format} onChange={(e) => setFormat(e.target.value)}>
              {FORMATS.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.label}
                </option>
              ))}
            </select>
          </label>
          {named.slice(0, 1).map(({ medium }) =>
            medium ? (
              <figure key={medium.media_id} className="preview-figure">
                <div className="preview-frame" style={{ aspectRatio: String(shape.ratio) }} data-testid="preview-frame">
                  <MediumView accountId={accountId} medium={medium} className="preview-medium" size="large" />
                  {shape.zones.map((z) => (
                    <span
                      key={z.label}
                      className="safe-zone"
                      data-testid="safe-zone"
                      title={`Covered by the app: ${z.label}`}
                      style={{
                        top: z.top !== undefined ? `${z.top}%` : undefined,
                        bottom: z.bottom !== undefined ? `${z.bottom}%` : undefined,
                        right: z.right !== undefined ? `${z.right}%` : undefined,
                        left: z.right !== undefined ? undefined : 0,
                        height: `${z.height}%`,
                        width: z.width !== undefined ? `${z.width}%` : '100%',
                      }}
                    >
                      {z.label}
                    </span>
                  ))}
                </div>
                <figcaption className="hint" data-testid="preview-fit">
                  {fit(medium, shape.ratio)}
                </figcaption>
              </figure>
            ) : null,
          )}
        </div>
      )}
    </section>
  )
}

/** Whether the medium's own shape is the format's, in words. */
function fit(m: Medium, ratio: number): string {
  const own = m.width / m.height
  if (Math.abs(own - ratio) / ratio <= 0.01) return `${m.width} × ${m.height} fills this format. Shaded: what the app covers.`
  return `${m.width} × ${m.height} is not this shape: it is shown cropped, and the platform's checks may refuse it. Shaded: what the app covers.`
}
