import { useEffect, useState } from 'react'
import { mediumUrl, type Rendition } from '../media'
import type { Medium } from '../apiTypes'

/** A library medium shown as it is (an image, a video's still, or the muted video), its bytes fetched with the token. */
export function MediumView({
  accountId,
  medium,
  className,
  size = 'thumb',
}: {
  accountId: string
  medium: Medium
  className?: string
  /** Images: the thumbnail for lists, the large copy for previews. Videos are served whole. */
  size?: Rendition
}) {
  const [src, setSrc] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    mediumUrl(accountId, medium.media_id, size).then((u) => live && setSrc(u), () => {})
    return () => {
      live = false
    }
  }, [accountId, medium.media_id, size])
  const label = medium.alt_text || medium.file_name
  if (!src) return <span className={`medium-placeholder ${className ?? ''}`} aria-label={label} role="img" />
  // A video's thumbnail is a still of it (once the renditions job made it); until then, and for
  // sizes it has no still of, the video itself is served.
  const still = medium.kind === 'video' && (medium.renditions ?? []).some((r) => r.name === size)
  return medium.kind === 'video' && !still ? (
    <video className={className} src={src} muted playsInline aria-label={label} />
  ) : (
    <img className={className} src={src} alt={label} />
  )
}
