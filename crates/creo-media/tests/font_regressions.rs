//! Font files the fuzzer found (scripts/fuzz.sh font), kept so they stay harmless.

#[test]
fn a_table_pointing_past_4_gib_is_refused_in_every_build() {
    let data = include_bytes!("fonts/table-past-4gib.ttf");
    assert!(creo_media::fonts::check(data).is_err());
}
