import { useEffect, useState } from 'react'
import { api, ApiError, credits } from '../api'
import type { Billing, UsageRow } from '../apiTypes'

const DAYS = 14

/** The account's credits, and what it spent per day over the last two weeks as a bar chart. */
export function CreditsPanel({ accountId, connection = 0 }: { accountId: string; connection?: number }) {
  const [billing, setBilling] = useState<Billing | null>(null)
  const [usage, setUsage] = useState<UsageRow[]>([])
  const [error, setError] = useState('')

  // Read again whenever the document reconnects: a panel that failed while the server was down
  // must not keep saying so once it is back.
  useEffect(() => {
    api<Billing>(`/accounts/${accountId}/billing`)
      .then((b) => {
        setBilling(b)
        setError('')
      })
      .catch((e: ApiError) => setError(e.status === 403 ? 'Only owners and admins see billing.' : e.message))
    api<UsageRow[]>(`/accounts/${accountId}/usage?days=${DAYS}`)
      .then(setUsage)
      .catch(() => {})
  }, [accountId, connection])

  const days = Array.from({ length: DAYS }, (_, i) => {
    const d = new Date(Date.now() - (DAYS - 1 - i) * 86_400_000)
    return d.toISOString().slice(0, 10)
  })
  const spent = days.map((day) => usage.filter((u) => u.day === day).reduce((s, u) => s + u.spent_milli, 0))
  const max = Math.max(1, ...spent)
  const [w, h] = [280, 100]
  const bar = w / DAYS

  return (
    <section aria-labelledby="credits-title" className="panel card">
      <h2 id="credits-title">Credits and usage</h2>
      {error && <p className="hint">{error}</p>}
      {billing && (
        <dl className="figures">
          <div>
            <dt>Available</dt>
            <dd data-testid="credits-available">{credits(billing.available_milli)}</dd>
          </div>
          <div>
            <dt>Held for running jobs</dt>
            <dd>{credits(billing.reserved_milli)}</dd>
          </div>
          <div>
            <dt>Plan</dt>
            <dd>{billing.tier}</dd>
          </div>
          <div>
            <dt>Generations this month</dt>
            <dd>
              {billing.month.generations}
              {billing.month.generations_limit !== null && ` of ${billing.month.generations_limit}`}
            </dd>
          </div>
        </dl>
      )}
      {billing && (
        <figure>
          <svg viewBox={`0 0 ${w} ${h + 16}`} role="img" aria-labelledby="usage-caption" className="chart">
            {spent.map((v, i) => (
              <rect
                key={days[i]}
                x={i * bar + 2}
                y={h - (v / max) * h}
                width={bar - 4}
                height={(v / max) * h}
                className="chart-bar"
              >
                <title>{`${days[i]}: ${credits(v)} credits`}</title>
              </rect>
            ))}
            <line x1="0" y1={h} x2={w} y2={h} className="chart-axis" />
            <text x="0" y={h + 13} className="chart-label">
              {days[0].slice(5)}
            </text>
            <text x={w} y={h + 13} textAnchor="end" className="chart-label">
              today
            </text>
          </svg>
          <figcaption id="usage-caption">
            Credits spent per day, last {DAYS} days: {credits(spent.reduce((a, b) => a + b, 0))} in all.
          </figcaption>
        </figure>
      )}
    </section>
  )
}
