// The media library from the browser: uploads with progress (XMLHttpRequest, since fetch
// reports none for a request body), and a medium's bytes as an object URL for <img> and
// <video>, fetched with the session's token like every API call (the content endpoint is not
// public).

import { accessToken, apiBlob, ApiError } from './api'
import type { Medium } from './apiTypes'

/** Uploads `file` to the workspace's library; `onProgress` hears the fraction sent (0 to 1). */
export async function uploadMedium(
  accountId: string,
  file: File,
  onProgress: (sent: number) => void,
): Promise<Medium> {
  const token = await accessToken()
  return new Promise((ok, fail) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', `/api/v1/accounts/${accountId}/media?name=${encodeURIComponent(file.name)}`)
    xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.setRequestHeader('Content-Type', 'application/octet-stream')
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total)
    xhr.onload = () => {
      let body: { error?: { code?: string; message?: string } } & Partial<Medium> = {}
      try {
        body = JSON.parse(xhr.responseText)
      } catch {
        /* an answer without a body */
      }
      if (xhr.status === 201) ok(body as Medium)
      else fail(new ApiError(xhr.status, body.error?.code ?? 'upload_failed', body.error?.message ?? `the upload failed (${xhr.status})`))
    }
    xhr.onerror = () => fail(new ApiError(0, 'network', 'the upload was cut off: check the connection and try again'))
    xhr.send(file)
  })
}

const urls = new Map<string, Promise<string>>()

/** A smaller copy creo makes of each image; the original is served until it is made. */
export type Rendition = 'thumb' | 'large'

/** An object URL of the medium's bytes (fetched once per page: a medium never changes). */
export function mediumUrl(accountId: string, mediaId: string, rendition: Rendition): Promise<string> {
  const key = `${accountId}/${mediaId}/${rendition}`
  let url = urls.get(key)
  if (!url) {
    url = apiBlob(`/accounts/${accountId}/media/${mediaId}/content?rendition=${rendition}`).then((blob) =>
      URL.createObjectURL(blob),
    )
    url.catch(() => urls.delete(key))
    urls.set(key, url)
  }
  return url
}

/** The drag payload that carries a library medium into a post. */
export const MEDIUM_DRAG_TYPE = 'application/x-creo-medium'
