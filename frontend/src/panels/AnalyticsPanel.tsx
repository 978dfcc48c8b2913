import { useCallback, useEffect, useState } from 'react'
import { api, ApiError } from '../api'
import { Alert } from '../Alert'
import { PLATFORM_NAMES, useChannels } from '../ChannelsPanel'
import type { DocumentAnalytics, Sample } from '../apiTypes'

const W = 280
const H = 90
const LINE_CLASSES = ['chart-line-a', 'chart-line-b', 'chart-line-c', 'chart-line-d']

const number = (n?: number) => (n ?? 0).toLocaleString()
const rate = (engagements?: number, impressions?: number) =>
  impressions ? `${(((engagements ?? 0) / impressions) * 100).toFixed(1)}%` : '–'

/** A line per channel: its impressions at each reading. */
function Chart({ series, channels }: { series: Sample[]; channels: string[] }) {
  if (series.length < 2) return null
  const t0 = series[0].at
  const t1 = Math.max(series[series.length - 1].at, t0 + 1)
  const max = Math.max(1, ...series.map((s) => s.metrics.impressions ?? 0))
  const x = (t: number) => ((t - t0) / (t1 - t0)) * W
  const y = (v: number) => H - (v / max) * H
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H + 16}`} role="img" aria-labelledby="reach-caption" className="chart">
        {channels.map((c, i) => {
          const points = series.filter((s) => s.channel_id === c)
          return (
            <polyline
              key={c}
              className={`chart-line ${LINE_CLASSES[i % LINE_CLASSES.length]}`}
              points={points.map((s) => `${x(s.at).toFixed(1)},${y(s.metrics.impressions ?? 0).toFixed(1)}`).join(' ')}
            />
          )
        })}
        <line x1="0" y1={H} x2={W} y2={H} className="chart-axis" />
        <text x="0" y={H + 13} className="chart-label">
          {new Date(t0).toLocaleDateString()}
        </text>
        <text x={W} y={H + 13} textAnchor="end" className="chart-label">
          {new Date(t1).toLocaleDateString()}
        </text>
      </svg>
      <figcaption id="reach-caption">Impressions per channel since it went out (up to {number(max)}).</figcaption>
    </figure>
  )
}

/** How the post did on each channel it went out on: the newest counters, and a chart of them over time. */
export function AnalyticsPanel({ docId, accountId, connection }: { docId: string; accountId: string; connection: number }) {
  const [data, setData] = useState<DocumentAnalytics | null>(null)
  const [error, setError] = useState('')
  const { channels } = useChannels(accountId)
  const load = useCallback(() => {
    api<DocumentAnalytics>(`/documents/${encodeURIComponent(docId)}/analytics`)
      .then((d) => {
        setData(d)
        setError('')
      })
      .catch((e: ApiError) => setError(e.message))
  }, [docId, connection])
  useEffect(load, [load])
  const channelOf = (id: string) => channels?.find((c) => c.channel_id === id)
  const nameOf = (id: string) => channelOf(id)?.name ?? id
  const platformOf = (id: string, fallback: string) => {
    const platform = channelOf(id)?.platform ?? fallback
    return PLATFORM_NAMES[platform] ?? platform
  }

  return (
    <section className="stack" aria-labelledby="analytics-title">
      <h2 id="analytics-title">Analytics</h2>
      <Alert text={error} />
      {!data ? (
        !error && <p>Loading…</p>
      ) : data.channels.length === 0 ? (
        <p className="hint">Once the post is published on a channel, how it does shows here.</p>
      ) : (
        <>
          <div className="metrics-wrap">
          <table className="metrics" data-testid="post-metrics">
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Impressions</th>
                <th scope="col">Engaged</th>
                <th scope="col">Clicks</th>
                <th scope="col">Rate</th>
              </tr>
            </thead>
            <tbody>
              {data.channels.map((c) => (
                <tr key={c.channel_id}>
                  <th scope="row">
                    {c.permalink ? (
                      <a href={c.permalink} target="_blank" rel="noreferrer">
                        {nameOf(c.channel_id)}
                      </a>
                    ) : (
                      nameOf(c.channel_id)
                    )}{' '}
                    <span className="hint">{platformOf(c.channel_id, c.platform)}</span>
                  </th>
                  {c.metrics ? (
                    <>
                      <td>{number(c.metrics.impressions)}</td>
                      <td>{number(c.metrics.engagements)}</td>
                      <td>{number(c.metrics.clicks)}</td>
                      <td>{rate(c.metrics.engagements, c.metrics.impressions)}</td>
                    </>
                  ) : (
                    <td colSpan={4} className="hint">
                      no reading yet
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          <p>
            In all: {number(data.totals.impressions)} impressions, {number(data.totals.engagements)} engagements (
            {rate(data.totals.engagements, data.totals.impressions)}).
          </p>
          <Chart series={data.series} channels={data.channels.map((c) => c.channel_id)} />
          <button type="button" onClick={load}>
            Refresh
          </button>
        </>
      )}
    </section>
  )
}
