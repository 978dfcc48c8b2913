//! A channel's posting queue: weekly slots ("Mondays and Thursdays at 09:00") in a time zone,
//! and the instants they fall on. "Add to queue" takes the first upcoming slot no post on that
//! channel holds; reordering gives the queued posts the upcoming slots in the order asked.
//!
//! Slots are wall-clock times, so across a daylight-saving change a 09:00 slot stays at 09:00
//! local and moves by an hour in UTC. A slot in the hour a spring change skips does not exist
//! that day and is left out; one in the hour an autumn change repeats is the earlier instant.

use chrono::{Datelike, Duration, NaiveTime, TimeZone, Weekday};
use serde::{Deserialize, Serialize};

/// Most slots in a week.
pub const MAX_SLOTS: usize = 50;
/// How far ahead slots are looked for.
pub const HORIZON_DAYS: i64 = 92;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueSchedule {
    /// IANA time zone the slots are in, e.g. `Europe/Paris`.
    pub timezone: String,
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Slot {
    /// `mon` … `sun`.
    pub day: String,
    /// `HH:MM`, 24-hour.
    pub time: String,
}

fn weekday(day: &str) -> Option<Weekday> {
    Some(match day {
        "mon" => Weekday::Mon,
        "tue" => Weekday::Tue,
        "wed" => Weekday::Wed,
        "thu" => Weekday::Thu,
        "fri" => Weekday::Fri,
        "sat" => Weekday::Sat,
        "sun" => Weekday::Sun,
        _ => return None,
    })
}

/// The schedule's zone and slots read, or what is wrong with them.
fn parse(s: &QueueSchedule) -> Result<(chrono_tz::Tz, Vec<(Weekday, NaiveTime)>), String> {
    let zone: chrono_tz::Tz = s
        .timezone
        .parse()
        .map_err(|_| format!("unknown time zone {:?}", s.timezone))?;
    if s.slots.len() > MAX_SLOTS {
        return Err(format!("at most {MAX_SLOTS} slots a week"));
    }
    let mut slots = Vec::with_capacity(s.slots.len());
    for slot in &s.slots {
        let day = weekday(&slot.day).ok_or_else(|| {
            format!(
                "day {:?} is one of mon, tue, wed, thu, fri, sat, sun",
                slot.day
            )
        })?;
        let time = NaiveTime::parse_from_str(&slot.time, "%H:%M")
            .map_err(|_| format!("time {:?} is HH:MM", slot.time))?;
        slots.push((day, time));
    }
    slots.sort_by_key(|(day, time)| (day.num_days_from_monday(), *time));
    slots.dedup();
    Ok((zone, slots))
}

pub fn validate(s: &QueueSchedule) -> Result<(), String> {
    parse(s).map(|_| ())
}

/// The instants (ms since the epoch) the slots fall on after `after`, for `HORIZON_DAYS`,
/// earliest first.
pub fn upcoming(s: &QueueSchedule, after: i64) -> Vec<i64> {
    let Ok((zone, slots)) = parse(s) else {
        return Vec::new();
    };
    let Some(start) = chrono::DateTime::from_timestamp_millis(after) else {
        return Vec::new();
    };
    let first_day = start.with_timezone(&zone).date_naive();
    let mut out = Vec::new();
    for offset in 0..=HORIZON_DAYS {
        let date = first_day + Duration::days(offset);
        for (day, time) in &slots {
            if date.weekday() != *day {
                continue;
            }
            if let Some(at) = zone.from_local_datetime(&date.and_time(*time)).earliest() {
                let ms = at.timestamp_millis();
                if ms > after {
                    out.push(ms);
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// The first upcoming slot after `after` that `taken` (instants already holding a post on the
/// channel) does not hold.
pub fn next_free(s: &QueueSchedule, after: i64, taken: &[i64]) -> Option<i64> {
    upcoming(s, after)
        .into_iter()
        .find(|at| !taken.contains(at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris(slots: &[(&str, &str)]) -> QueueSchedule {
        QueueSchedule {
            timezone: "Europe/Paris".into(),
            slots: slots
                .iter()
                .map(|(d, t)| Slot {
                    day: d.to_string(),
                    time: t.to_string(),
                })
                .collect(),
        }
    }

    fn utc(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    }

    #[test]
    fn a_nine_oclock_slot_stays_at_nine_local_across_the_spring_change() {
        // 2027-03-28 is the last Sunday of March: Paris goes from UTC+1 to UTC+2.
        let s = paris(&[("fri", "09:00"), ("mon", "09:00")]);
        let slots = upcoming(&s, utc("2027-03-25T12:00:00Z"));
        assert_eq!(
            slots[0],
            utc("2027-03-26T08:00:00Z"),
            "Friday, still winter time"
        );
        assert_eq!(slots[1], utc("2027-03-29T07:00:00Z"), "Monday, summer time");
        assert_eq!(
            slots[1] - slots[0],
            (3 * 24 - 1) * 3_600_000,
            "an hour less between them"
        );
    }

    #[test]
    fn a_slot_in_the_skipped_hour_is_left_out_and_a_repeated_hour_is_the_earlier_instant() {
        let skipped = paris(&[("sun", "02:30")]);
        let after = utc("2027-03-27T00:00:00Z");
        assert_eq!(
            upcoming(&skipped, after)[0],
            utc("2027-04-04T00:30:00Z"),
            "no 02:30 on 28 March; the next Sunday's"
        );
        let repeated = paris(&[("sun", "02:30")]);
        let autumn = upcoming(&repeated, utc("2026-10-24T00:00:00Z"));
        assert_eq!(
            autumn[0],
            utc("2026-10-25T00:30:00Z"),
            "the first of the two 02:30s"
        );
    }

    #[test]
    fn the_next_free_slot_skips_those_taken_and_bad_schedules_are_named() {
        let s = paris(&[("tue", "10:00"), ("thu", "10:00")]);
        let after = utc("2026-12-07T12:00:00Z"); // a Monday
        let all = upcoming(&s, after);
        assert_eq!(next_free(&s, after, &[]), Some(all[0]));
        assert_eq!(next_free(&s, after, &all[..2]), Some(all[2]));
        assert!(validate(&paris(&[("monday", "09:00")]))
            .unwrap_err()
            .contains("mon"));
        assert!(validate(&paris(&[("mon", "9am")]))
            .unwrap_err()
            .contains("HH:MM"));
        let mut bad_zone = paris(&[]);
        bad_zone.timezone = "Mars/Olympus".into();
        assert!(validate(&bad_zone).is_err());
        assert!(upcoming(&paris(&[]), after).is_empty());
    }
}
