// The media library from the browser: uploads that survive a dropped connection (the
// official tus-js-client over creo's tus endpoint: a cut upload goes on from the byte the
// server has, and one cut by a closed tab goes on when the same file is chosen again), and a
// medium's bytes as an object URL for <img> and <video>, fetched with the session's token like
// every API call (the content endpoint is not public).

import * as tus from 'tus-js-client'
import { accessToken, api, apiBlob, ApiError } from './api'
import type { Medium } from './apiTypes'

/**
 * Bytes per request. A browser going offline does not cut the request under way, but it does
 * refuse the next one, so this is at most what is sent again, and what a proxy sees at once.
 */
const CHUNK_BYTES = 2 << 20

/** The refusal in a tus error, in creo's words. */
function refusal(err: Error): ApiError {
  const res = (err as tus.DetailedError).originalResponse
  if (!res) return new ApiError(0, 'network', 'the upload was cut off: check the connection and try again')
  let body: { error?: { code?: string; message?: string } } = {}
  try {
    body = JSON.parse(res.getBody())
  } catch {
    /* an answer without a body */
  }
  return new ApiError(
    res.getStatus(),
    body.error?.code ?? 'upload_failed',
    body.error?.message ?? `the upload failed (${res.getStatus()})`,
  )
}

/**
 * Uploads `file` to the workspace's library. `onProgress` hears the fraction the server has
 * (0 to 1); `onOffline` hears when the browser went offline mid-way (`true`: the upload waits)
 * and came back (`false`: it goes on from where the server stands).
 */
export function uploadMedium(
  accountId: string,
  file: File,
  onProgress: (sent: number) => void,
  onOffline: (waiting: boolean) => void = () => {},
): Promise<Medium> {
  return new Promise((ok, fail) => {
    // tus-js-client stops retrying while the browser is offline; going on is ours to do.
    const whenOnline = (again: () => void) => {
      onOffline(true)
      window.addEventListener(
        'online',
        () => {
          onOffline(false)
          again()
        },
        { once: true },
      )
    }
    const stored = (id: string) =>
      api<Medium>(`/accounts/${accountId}/media/${id}`).then(ok, (err) =>
        navigator.onLine ? fail(err) : whenOnline(() => stored(id)),
      )
    const upload = new tus.Upload(file, {
      endpoint: `/api/v1/accounts/${accountId}/uploads`,
      chunkSize: CHUNK_BYTES,
      retryDelays: [0, 1000, 3000, 5000, 10000],
      metadata: { filename: file.name },
      removeFingerprintOnSuccess: true,
      // A long upload outlives an access token: each request asks for a fresh one.
      async onBeforeRequest(req) {
        req.setHeader('Authorization', `Bearer ${await accessToken()}`)
      },
      onProgress: (sent, total) => onProgress(total ? sent / total : 0),
      onSuccess: ({ lastResponse }) => {
        const id = lastResponse.getHeader('Creo-Media-Id')
        if (id) stored(id)
        else fail(new ApiError(0, 'upload_failed', 'the server did not say what it stored'))
      },
      onError: (err) => (navigator.onLine ? fail(refusal(err)) : whenOnline(() => upload.start())),
    })
    upload
      .findPreviousUploads()
      .then((earlier) => {
        if (earlier.length > 0) upload.resumeFromPreviousUpload(earlier[0])
      })
      .finally(() => upload.start())
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
