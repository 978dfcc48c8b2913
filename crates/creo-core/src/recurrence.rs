//! Recurring posts: a subset of RFC 5545 RRULE (`FREQ=DAILY`, `FREQ=WEEKLY` with `BYDAY`,
//! `FREQ=MONTHLY`, each with `INTERVAL`, `COUNT` and `UNTIL`) and the instants it falls on.
//!
//! Occurrences keep the first one's wall-clock time in its zone, so a 09:00 post stays at
//! 09:00 across daylight-saving changes; a time the change skips is left out that day, and a
//! repeated hour is the earlier instant. A monthly rule on the 31st skips months without one,
//! as RFC 5545 does. `COUNT` counts the first occurrence.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Weekday};
use serde::{Deserialize, Serialize};

/// How far ahead occurrences are looked for, at most.
const MAX_SCAN: u32 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freq {
    Daily,
    Weekly,
    Monthly,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub freq: Freq,
    pub interval: u32,
    /// Weekly only; empty: the first occurrence's weekday.
    pub by_day: Vec<Weekday>,
    pub count: Option<u32>,
    /// Last instant an occurrence may fall on (ms since the epoch).
    pub until: Option<i64>,
}

/// A post's repetition as stored: the rule as written, the zone its times are in, and the
/// first occurrence the others follow from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recurrence {
    pub doc_id: String,
    pub account_id: String,
    /// `FREQ=WEEKLY;BYDAY=MO,TH;COUNT=8`.
    pub rule: String,
    pub timezone: String,
    /// The first occurrence (ms since the epoch).
    pub first: i64,
}

fn day(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// Reads a rule (an optional `RRULE:` prefix, parts in any order), or says what it cannot take.
pub fn parse(text: &str) -> Result<Rule, String> {
    let text = text.trim();
    let body = text.strip_prefix("RRULE:").unwrap_or(text);
    if body.len() > 200 {
        return Err("a rule is at most 200 characters".into());
    }
    let (mut freq, mut interval, mut by_day, mut count, mut until) =
        (None, 1, Vec::new(), None, None);
    for part in body.split(';').filter(|p| !p.is_empty()) {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?} is not KEY=VALUE"))?;
        match key {
            "FREQ" => {
                freq = Some(match value {
                    "DAILY" => Freq::Daily,
                    "WEEKLY" => Freq::Weekly,
                    "MONTHLY" => Freq::Monthly,
                    other => {
                        return Err(format!(
                            "FREQ={other} is not one creo repeats (DAILY, WEEKLY, MONTHLY)"
                        ))
                    }
                })
            }
            "INTERVAL" => {
                interval = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=52).contains(n))
                    .ok_or("INTERVAL is 1-52")?
            }
            "BYDAY" => {
                for d in value.split(',') {
                    by_day
                        .push(day(d).ok_or_else(|| {
                            format!("BYDAY {d:?} is one of MO TU WE TH FR SA SU")
                        })?);
                }
            }
            "COUNT" => {
                count = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or("COUNT is 1-1000")?,
                )
            }
            "UNTIL" => {
                let at = chrono::NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
                    .map(|t| t.and_utc().timestamp_millis())
                    .or_else(|_| {
                        NaiveDate::parse_from_str(value, "%Y%m%d").map(|d| {
                            d.and_hms_opt(23, 59, 59)
                                .expect("a valid time")
                                .and_utc()
                                .timestamp_millis()
                        })
                    })
                    .map_err(|_| "UNTIL is 20261231 or 20261231T235959Z")?;
                until = Some(at);
            }
            other => return Err(format!("{other} is not part of the rules creo repeats")),
        }
    }
    let freq = freq.ok_or("a rule needs FREQ")?;
    if !by_day.is_empty() && freq != Freq::Weekly {
        return Err("BYDAY goes with FREQ=WEEKLY".into());
    }
    if count.is_some() && until.is_some() {
        return Err("COUNT or UNTIL, not both".into());
    }
    by_day.sort_by_key(|d| d.num_days_from_monday());
    by_day.dedup();
    Ok(Rule {
        freq,
        interval,
        by_day,
        count,
        until,
    })
}

/// The local dates the rule falls on from `start` (the first occurrence's date), in order.
fn dates(rule: &Rule, start: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
    let step = rule.interval as i64;
    let monday = start - Duration::days(start.weekday().num_days_from_monday() as i64);
    let days = if rule.by_day.is_empty() {
        vec![start.weekday()]
    } else {
        rule.by_day.clone()
    };
    // The first occurrence is one even on a day the rule does not name (RFC 5545's DTSTART).
    let off_rule = rule.freq == Freq::Weekly && !days.contains(&start.weekday());
    let first = off_rule.then_some(start);
    first
        .into_iter()
        .chain((0..MAX_SCAN as i64).flat_map(move |k| -> Vec<NaiveDate> {
            match rule.freq {
                Freq::Daily => vec![start + Duration::days(k * step)],
                Freq::Weekly => days
                    .iter()
                    .map(|d| {
                        monday + Duration::days(k * step * 7 + d.num_days_from_monday() as i64)
                    })
                    .filter(|d| *d >= start)
                    .collect(),
                Freq::Monthly => {
                    let months = start.year() as i64 * 12 + start.month0() as i64 + k * step;
                    NaiveDate::from_ymd_opt(
                        (months / 12) as i32,
                        (months % 12) as u32 + 1,
                        start.day(),
                    )
                    .into_iter()
                    .collect()
                }
            }
        }))
}

/// The first occurrence after `after`, and how many come before it (0: it is the first), or
/// `None` when the rule has ended.
pub fn next_after(rule: &Rule, zone: chrono_tz::Tz, first: i64, after: i64) -> Option<(u32, i64)> {
    let start = zone.timestamp_millis_opt(first).single()?;
    let time: NaiveTime = start.time();
    let mut index = 0u32;
    for date in dates(rule, start.date_naive()) {
        let Some(at) = zone.from_local_datetime(&date.and_time(time)).earliest() else {
            continue; // skipped by a daylight-saving change
        };
        let at = at.timestamp_millis();
        if rule.count.is_some_and(|c| index >= c) || rule.until.is_some_and(|u| at > u) {
            return None;
        }
        if at > after {
            return Some((index, at));
        }
        index += 1;
        if index > MAX_SCAN {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    fn all(rule: &str, zone: chrono_tz::Tz, first: &str, n: usize) -> Vec<i64> {
        let rule = parse(rule).unwrap();
        let first = utc(first);
        let mut out = Vec::new();
        let mut after = first - 1;
        while out.len() < n {
            match next_after(&rule, zone, first, after) {
                Some((_, at)) => {
                    out.push(at);
                    after = at;
                }
                None => break,
            }
        }
        out
    }

    #[test]
    fn weekly_on_two_days_keeps_nine_oclock_paris_across_the_spring_change() {
        let got = all(
            "FREQ=WEEKLY;BYDAY=MO,TH;COUNT=5",
            chrono_tz::Europe::Paris,
            "2027-03-18T08:00:00Z",
            10,
        );
        assert_eq!(
            got,
            [
                utc("2027-03-18T08:00:00Z"), // Thursday (the first)
                utc("2027-03-22T08:00:00Z"), // Monday
                utc("2027-03-25T08:00:00Z"), // Thursday
                utc("2027-03-29T07:00:00Z"), // Monday, summer time: still 09:00 in Paris
                utc("2027-04-01T07:00:00Z"),
            ],
            "COUNT=5 counts the first"
        );
    }

    #[test]
    fn daily_with_an_interval_monthly_skips_short_months_and_until_ends_it() {
        let every_other = all(
            "FREQ=DAILY;INTERVAL=2;UNTIL=20261207",
            chrono_tz::UTC,
            "2026-12-01T10:00:00Z",
            10,
        );
        assert_eq!(every_other.len(), 4, "1, 3, 5 and 7 December");
        let monthly = all(
            "FREQ=MONTHLY;COUNT=4",
            chrono_tz::UTC,
            "2027-01-31T09:00:00Z",
            10,
        );
        assert_eq!(
            monthly,
            [
                utc("2027-01-31T09:00:00Z"),
                utc("2027-03-31T09:00:00Z"),
                utc("2027-05-31T09:00:00Z"),
                utc("2027-07-31T09:00:00Z"),
            ],
            "no 31 February, April, June"
        );
        let rule = parse("FREQ=DAILY;COUNT=2").unwrap();
        let first = utc("2026-12-01T10:00:00Z");
        assert_eq!(
            next_after(&rule, chrono_tz::UTC, first, first),
            Some((1, first + 86_400_000))
        );
        assert_eq!(
            next_after(&rule, chrono_tz::UTC, first, first + 86_400_000),
            None,
            "two and done"
        );
    }

    #[test]
    fn a_first_occurrence_off_the_rules_days_still_counts() {
        // Wednesday 2 December, then Mondays: COUNT=3 is Wednesday and two Mondays.
        let got = all(
            "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
            chrono_tz::UTC,
            "2026-12-02T09:00:00Z",
            10,
        );
        assert_eq!(
            got,
            [
                utc("2026-12-02T09:00:00Z"),
                utc("2026-12-07T09:00:00Z"),
                utc("2026-12-14T09:00:00Z")
            ]
        );
    }

    #[test]
    fn rules_outside_the_subset_are_named() {
        assert!(parse("FREQ=HOURLY")
            .unwrap_err()
            .contains("DAILY, WEEKLY, MONTHLY"));
        assert!(parse("FREQ=DAILY;BYDAY=MO").unwrap_err().contains("WEEKLY"));
        assert!(parse("FREQ=WEEKLY;BYDAY=XX").is_err());
        assert!(parse("FREQ=WEEKLY;BYSETPOS=1")
            .unwrap_err()
            .contains("BYSETPOS"));
        assert!(parse("FREQ=DAILY;COUNT=2;UNTIL=20270101").is_err());
        assert!(parse("INTERVAL=2").unwrap_err().contains("FREQ"));
        assert_eq!(parse("RRULE:FREQ=WEEKLY;INTERVAL=2").unwrap().interval, 2);
    }
}
