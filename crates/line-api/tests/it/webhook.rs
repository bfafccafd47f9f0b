//! `line_api::webhook` against the fixtures in `tests/fixtures` and LINE's `webhook.yml`.

use std::path::{Path, PathBuf};

use line_api::webhook::{
    BeaconType, ContentProviderType, DetachedReason, Event, EventKind, LinkResult, MembershipType,
    Mentionee, MessageContent, Mode, ModuleContent, ParseError, ParsedEvent, Source,
    StickerResourceType, WebhookBody, parse_body,
};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// Takes the payload out of an enum variant, or fails the test naming what was found.
macro_rules! variant {
    ($value:expr, $variant:path) => {
        match $value {
            $variant(inner) => inner,
            other => panic!("expected {}, got {other:?}", stringify!($variant)),
        }
    };
}

const USER: &str = "U4af4980629c4ed1e5d4d3bb8a8f7d5a9";
const GROUP: &str = "Ca56f94637c53f2b3b1e8cf0e8e1d2b8f";
const ROOM: &str = "Ra8dbf4ccc3e3d1c5c2f8a2b1e0d9c7a6";

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures_dir() -> PathBuf {
    manifest_dir().join("tests/fixtures")
}

fn read_fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

fn parse(name: &str) -> WebhookBody {
    parse_body(&read_fixture(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// The events of a fixture, typed.
fn events(name: &str) -> Vec<Event> {
    parse(name)
        .events
        .into_iter()
        .map(|parsed| parsed.event)
        .collect()
}

/// The single event of a fixture.
fn event(name: &str) -> Event {
    let mut events = events(name);
    assert_eq!(events.len(), 1, "{name} should hold exactly one event");
    events.remove(0)
}

fn message(name: &str) -> MessageContent {
    variant!(event(name).kind, EventKind::Message).message
}

/// The typed payload of every event of a fixture whose events are all of one kind.
fn payloads<T>(name: &str, payload: impl Fn(EventKind) -> T) -> Vec<T> {
    events(name)
        .into_iter()
        .map(|event| payload(event.kind))
        .collect()
}

/// The messages of a fixture whose events are all message events.
fn messages(name: &str) -> Vec<MessageContent> {
    payloads(name, |kind| variant!(kind, EventKind::Message).message)
}

fn parse_err(body: &str) -> ParseError {
    match parse_body(body.as_bytes()) {
        Ok(parsed) => panic!("expected a parse error for {body}, got {parsed:?}"),
        Err(err) => err,
    }
}

/// A body with the given events.
fn body_of(events: &[Value]) -> String {
    json!({ "destination": "U0123456789abcdef0123456789abcdef", "events": events }).to_string()
}

/// A valid text message event from the user, for building malformed bodies around.
fn text_event() -> Value {
    json!({
        "type": "message",
        "mode": "active",
        "timestamp": 1_692_251_666_727_i64,
        "webhookEventId": "01H810YECXQQZ37VAXPF6H9E6T",
        "deliveryContext": { "isRedelivery": false },
        "source": { "type": "user", "userId": USER },
        "replyToken": "nHuyWiB7yP5Zw52FIkcQobQuGDXCTA",
        "message": { "type": "text", "id": "1", "quoteToken": "q", "text": "hi" }
    })
}

/// [`text_event`] with the value at a JSON pointer replaced, or removed when `value` is `None`.
fn edited(pointer: &str, value: Option<Value>) -> Value {
    let mut event = text_event();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let parent = event
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("the pointer's parent is an object");
    match value {
        Some(value) => parent.insert(key.to_owned(), value),
        None => parent.remove(key),
    };
    event
}

/// Every fixture file, as a path relative to the fixtures directory.
fn all_fixtures() -> Vec<String> {
    let mut names = Vec::new();
    let dirs = std::fs::read_dir(fixtures_dir()).expect("the fixtures directory exists");
    for dir in dirs {
        let dir = dir.expect("readable fixtures directory").path();
        let files = std::fs::read_dir(&dir).expect("fixture subdirectories are directories");
        for file in files {
            let file = file.expect("readable fixture directory").path();
            let relative = file.strip_prefix(fixtures_dir()).expect("under fixtures");
            names.push(relative.to_string_lossy().into_owned());
        }
    }
    names.sort();
    names
}

// ----- every fixture ------------------------------------------------------------------------

#[test]
fn every_fixture_parses_and_serializes_back_to_the_same_json() {
    let names = all_fixtures();
    assert!(names.len() > 40, "fixtures missing: {names:?}");
    for name in names {
        let bytes = read_fixture(&name);
        let body = parse(&name);
        let json: Value = serde_json::from_slice(&bytes).expect("fixtures are JSON");
        assert_eq!(
            json["events"].as_array().map(Vec::len),
            Some(body.events.len()),
            "{name}"
        );
        for (i, parsed) in body.events.iter().enumerate() {
            let raw: Value = serde_json::from_str(parsed.raw.get()).expect("raw is JSON");
            assert_eq!(raw, json["events"][i], "{name}: events[{i}] raw");
            let typed = serde_json::to_value(&parsed.event).expect("events serialize");
            assert_eq!(
                typed, raw,
                "{name}: events[{i}] does not serialize back to what was received"
            );
            let again: Event = serde_json::from_value(typed).expect("serialized events parse");
            assert_eq!(again, parsed.event, "{name}: events[{i}]");
        }
        let reserialized = serde_json::to_value(&body).expect("bodies serialize");
        assert_eq!(reserialized, json, "{name}: body");
    }
}

#[test]
fn raw_event_json_is_kept_byte_for_byte() {
    let first = r#"{ "type" : "unfollow",  "mode":"active","timestamp":1,
        "source":{"type":"user","userId":"U1"}, "note": "\u3042\n" }"#;
    let second = r#"{"timestamp":2,"mode":"standby","type":"join","replyToken":"r"}"#;
    let body = format!(r#"{{"events": [ {first} ,{second}], "destination":"U0"}}"#);
    let parsed = parse_body(body.as_bytes()).expect("valid body");
    assert_eq!(parsed.destination, "U0");
    let raws: Vec<&str> = parsed.events.iter().map(|event| event.raw.get()).collect();
    assert_eq!(raws, [first, second]);
    // Re-serializing the body writes the events exactly as received.
    let written = serde_json::to_string(&parsed).expect("serializes");
    assert!(
        written.contains(first) && written.contains(second),
        "{written}"
    );
}

#[test]
fn empty_events_is_a_valid_body() {
    let parsed = parse_body(br#"{"destination":"U0123456789abcdef0123456789abcdef","events":[]}"#)
        .expect("LINE sends this to verify the webhook URL");
    assert!(parsed.events.is_empty());
}

// ----- spec cross-check -----------------------------------------------------------------------

/// The lines of one schema under `components.schemas` of the spec.
fn schema<'a>(spec: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("    {name}:");
    let mut lines = spec.lines().skip_while(|line| *line != header);
    assert!(
        lines.next().is_some(),
        "schema {name} not found in webhook.yml"
    );
    lines
        .take_while(|line| line.trim().is_empty() || indent(line) > 4)
        .collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The entries of the block that follows the line `key:` (the first one at or after `from`).
fn block_after<'a>(lines: &[&'a str], from: &str, key: &str) -> Vec<&'a str> {
    let start = lines
        .iter()
        .position(|line| line.trim() == from)
        .unwrap_or_else(|| panic!("`{from}` not found"));
    let rest = &lines[start..];
    let at = rest
        .iter()
        .position(|line| line.trim() == key)
        .unwrap_or_else(|| panic!("`{key}` not found after `{from}`"));
    let depth = indent(rest[at]);
    rest[at + 1..]
        .iter()
        .take_while(|line| indent(line) > depth)
        .map(|line| line.trim())
        .collect()
}

/// The discriminator values in the `mapping:` of a schema.
fn mapping(spec: &str, name: &str) -> Vec<String> {
    let lines = schema(spec, name);
    let values: Vec<String> = block_after(&lines, "discriminator:", "mapping:")
        .iter()
        .filter_map(|entry| entry.split_once(':'))
        .map(|(value, _)| value.trim().to_owned())
        .collect();
    assert!(!values.is_empty(), "empty mapping in {name}");
    values
}

fn spec() -> String {
    let path = manifest_dir().join("../../../shared/line-openapi/webhook.yml");
    std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read LINE's webhook spec at {}: {err}. The spec cross-checks need it \
             (it lives in /work/shared/line-openapi/webhook.yml).",
            path.display()
        )
    })
}

/// Fixture files in a directory, without `.json`.
fn fixture_stems(dir: &str) -> Vec<String> {
    let mut stems: Vec<String> = all_fixtures()
        .iter()
        .filter_map(|name| {
            name.strip_prefix(&format!("{dir}/"))?
                .strip_suffix(".json")
                .map(str::to_owned)
        })
        .collect();
    stems.sort();
    stems
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

/// Checks that `dir` holds one fixture per spec value and that each fixture parses to the known
/// variant for its value: `items` reads what a fixture holds, `parsed` gives each item's value
/// as parsed and whether it fell back to `Unknown`.
fn assert_one_known_fixture_per_value<T>(
    dir: &str,
    values: Vec<String>,
    items: impl Fn(&str) -> Vec<T>,
    parsed: impl Fn(T) -> (String, bool),
) {
    assert_eq!(
        fixture_stems(dir),
        sorted(values.clone()),
        "one fixture per spec value in {dir}"
    );
    for value in values {
        for item in items(&format!("{dir}/{value}.json")) {
            let (name, unknown) = parsed(item);
            assert_eq!(name, value);
            assert!(!unknown, "spec value {value} in {dir} parsed as Unknown");
        }
    }
}

#[test]
fn every_event_type_in_the_spec_parses_to_a_known_variant() {
    let types = mapping(&spec(), "Event");
    assert_eq!(
        types.len(),
        19,
        "the spec's Event mapping changed: {types:?}"
    );
    assert_one_known_fixture_per_value("event", types, events, |event| {
        let unknown = matches!(event.kind, EventKind::Unknown { .. });
        (event.event_type().to_owned(), unknown)
    });
}

#[test]
fn every_source_type_in_the_spec_parses_to_a_known_variant() {
    let types = mapping(&spec(), "Source");
    assert_one_known_fixture_per_value("source", types, events, |event| {
        let source = event.source.expect("source fixtures have a source");
        let unknown = matches!(source, Source::Unknown { .. });
        (source.type_name().to_owned(), unknown)
    });
}

#[test]
fn every_message_type_in_the_spec_parses_to_a_known_variant() {
    let types = mapping(&spec(), "MessageContent");
    assert_one_known_fixture_per_value("message", types, messages, |message| {
        let unknown = matches!(message, MessageContent::Unknown { .. });
        (message.type_name().to_owned(), unknown)
    });
}

#[test]
fn every_sticker_resource_type_in_the_spec_parses_to_a_known_variant() {
    let spec = spec();
    let lines = schema(&spec, "StickerMessageContent");
    let values: Vec<String> = block_after(&lines, "stickerResourceType:", "enum:")
        .iter()
        .filter_map(|entry| entry.strip_prefix("- "))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        values.len(),
        10,
        "the spec's stickerResourceType enum changed: {values:?}"
    );
    // `message` insists on exactly one event per sticker fixture.
    let one_message = |name: &str| vec![message(name)];
    assert_one_known_fixture_per_value("sticker", values, one_message, |message| {
        let resource_type = variant!(message, MessageContent::Sticker).sticker_resource_type;
        let unknown = matches!(resource_type, StickerResourceType::Unknown(_));
        (resource_type.as_str().to_owned(), unknown)
    });
}

// ----- event types ----------------------------------------------------------------------------

#[test]
fn message_event() {
    let event = event("event/message.json");
    assert_eq!(event.mode, Mode::Active);
    assert_eq!(event.timestamp, 1_692_251_666_727);
    assert_eq!(
        event.webhook_event_id.as_deref(),
        Some("01H810YECXQQZ37VAXPF6H9E01")
    );
    assert!(!event.is_redelivery());
    assert_eq!(
        event.reply_token.as_deref(),
        Some("nHuyWiB7yP5Zw52FIkcQobQuGDXCTA")
    );
    assert_eq!(event.event_type(), "message");
    assert_eq!(event.chat_key().as_deref(), Some(USER));
    assert_eq!(event.line_message_id(), Some("468789577898262530"));
    let message = variant!(&event.kind, EventKind::Message);
    assert_eq!(
        message.message.mark_as_read_token(),
        Some("30yhdy232KbaW5eGEODFzG3")
    );
    let text = variant!(&message.message, MessageContent::Text);
    assert_eq!(text.text, "Hello, world! (love)");
}

#[test]
fn unsend_event() {
    let event = event("event/unsend.json");
    assert_eq!(
        variant!(&event.kind, EventKind::Unsend).unsend.message_id,
        "325708"
    );
    assert_eq!(event.chat_key().as_deref(), Some(GROUP));
    assert_eq!(event.reply_token, None);
    assert_eq!(
        event.line_message_id(),
        None,
        "only message events have a message ID"
    );
}

#[test]
fn follow_event() {
    let unblocked = payloads("event/follow.json", |kind| {
        variant!(kind, EventKind::Follow).follow.is_unblocked
    });
    assert_eq!(unblocked, [false, true]);
}

#[test]
fn events_without_fields_of_their_own() {
    for (name, kind) in [
        ("unfollow", EventKind::Unfollow),
        ("join", EventKind::Join),
        ("leave", EventKind::Leave),
        ("deactivated", EventKind::Deactivated),
        ("botSuspended", EventKind::BotSuspended),
        ("botResumed", EventKind::BotResumed),
    ] {
        let event = event(&format!("event/{name}.json"));
        assert_eq!(event.kind, kind);
        assert_eq!(event.event_type(), name);
    }
    assert_eq!(event("event/join.json").chat_key().as_deref(), Some(GROUP));
    assert_eq!(event("event/deactivated.json").mode, Mode::Standby);
    let suspended = event("event/botSuspended.json");
    assert_eq!((&suspended.source, suspended.chat_key()), (&None, None));
}

#[test]
fn member_joined_and_left_events() {
    let joined = variant!(
        event("event/memberJoined.json").kind,
        EventKind::MemberJoined
    );
    let left = variant!(event("event/memberLeft.json").kind, EventKind::MemberLeft);
    for members in [joined.joined.members, left.left.members] {
        let ids: Vec<_> = members.iter().map(Source::user_id).collect();
        assert_eq!(
            ids,
            [
                Some("U91eeaf62d901234567890123456789ab"),
                Some("U1f2e3d4c5b6a79808f7e6d5c4b3a2910")
            ]
        );
        assert!(
            members
                .iter()
                .all(|member| matches!(member, Source::User(_)))
        );
    }
}

#[test]
fn postback_event_with_every_param() {
    let postbacks = payloads("event/postback.json", |kind| {
        variant!(kind, EventKind::Postback).postback
    });
    let params: Vec<_> = postbacks
        .iter()
        .map(|postback| postback.params.clone())
        .collect();
    assert_eq!(
        params[0].as_ref().and_then(|p| p.date.as_deref()),
        Some("2017-06-18")
    );
    assert_eq!(
        params[1].as_ref().and_then(|p| p.time.as_deref()),
        Some("06:15")
    );
    assert_eq!(
        params[2].as_ref().and_then(|p| p.datetime.as_deref()),
        Some("2017-06-18T06:15")
    );
    let switch = params[3].clone().expect("rich menu switch has params");
    assert_eq!(
        switch.new_rich_menu_alias_id.as_deref(),
        Some("richmenu-alias-b")
    );
    assert_eq!(switch.status.as_deref(), Some("SUCCESS"));
    assert!(switch.other.is_empty());
    assert_eq!(postbacks[4].data, "action=buy&itemid=111");
    assert_eq!(postbacks[4].params, None);
}

#[test]
fn postback_params_keep_undocumented_keys() {
    let mut event = text_event();
    event["type"] = json!("postback");
    event["postback"] = json!({ "data": "d", "params": { "date": "2017-06-18", "color": "red" } });
    let parsed = parse_body(body_of(&[event]).as_bytes()).expect("valid body");
    let postback = variant!(&parsed.events[0].event.kind, EventKind::Postback);
    let params = postback.postback.params.as_ref().expect("params");
    assert_eq!(params.other.get("color").map(String::as_str), Some("red"));
}

#[test]
fn video_play_complete_event() {
    let event = variant!(
        event("event/videoPlayComplete.json").kind,
        EventKind::VideoPlayComplete
    );
    assert_eq!(event.video_play_complete.tracking_id, "track-id");
}

#[test]
fn beacon_event() {
    let beacons = payloads("event/beacon.json", |kind| {
        variant!(kind, EventKind::Beacon).beacon
    });
    let types: Vec<_> = beacons
        .iter()
        .map(|beacon| beacon.beacon_type.clone())
        .collect();
    assert_eq!(
        types,
        [BeaconType::Enter, BeaconType::Banner, BeaconType::Stay]
    );
    assert_eq!(beacons[0].hwid, "d41d8cd98f");
    assert_eq!(beacons[0].dm.as_deref(), Some("1234567890abcdef"));
}

#[test]
fn account_link_event() {
    let events = events("event/accountLink.json");
    let results: Vec<_> = events
        .iter()
        .map(|event| {
            variant!(&event.kind, EventKind::AccountLink)
                .link
                .result
                .clone()
        })
        .collect();
    assert_eq!(results, [LinkResult::Ok, LinkResult::Failed]);
    assert_eq!(
        events[1].reply_token, None,
        "failed links come without a reply token"
    );
}

#[test]
fn membership_event() {
    let memberships = payloads("event/membership.json", |kind| {
        variant!(kind, EventKind::Membership).membership
    });
    let types: Vec<_> = memberships
        .iter()
        .map(|m| m.membership_type.clone())
        .collect();
    assert_eq!(
        types,
        [
            MembershipType::Joined,
            MembershipType::Left,
            MembershipType::Renewed
        ]
    );
    assert!(memberships.iter().all(|m| m.membership_id == 3189));
}

#[test]
fn module_events() {
    let modules = payloads("event/module.json", |kind| {
        variant!(kind, EventKind::Module).module
    });
    let attached = variant!(&modules[0], ModuleContent::Attached);
    assert_eq!(attached.scopes, ["message:send"]);
    let detached = variant!(&modules[1], ModuleContent::Detached);
    assert_eq!(detached.reason, DetachedReason::BotDeleted);
    assert_eq!(detached.bot_id, "U0123456789abcdef0123456789abcdef");
}

#[test]
fn activated_event() {
    let activated = variant!(event("event/activated.json").kind, EventKind::Activated);
    assert_eq!(activated.chat_control.expire_at, 1_462_629_479_860);
}

#[test]
fn pnp_delivery_event() {
    let delivery = variant!(event("event/delivery.json").kind, EventKind::Delivery);
    assert!(delivery.delivery.data.starts_with("eb3f2c9b"));
}

// ----- message types --------------------------------------------------------------------------

#[test]
fn text_message_with_emoji_mentions_and_quote() {
    let text = variant!(message("message/text.json"), MessageContent::Text);
    assert_eq!(text.quote_token, "q3Plxr4AgKd6VVsdqtl8Ee5Y6xT4y1");
    assert_eq!(
        text.quoted_message_id.as_deref(),
        Some("468789532432007169")
    );
    assert_eq!(
        text.mark_as_read_token.as_deref(),
        Some("30yhdy232KbaW5eGEODFzG3")
    );
    let emoji = &text.emojis.as_deref().expect("emojis")[0];
    assert_eq!(
        (emoji.index, emoji.length, emoji.emoji_id.as_str()),
        (29, 6, "001")
    );
    let mentionees = text.mention.expect("mention").mentionees;
    let all = variant!(&mentionees[0], Mentionee::All);
    assert_eq!((all.index, all.length), (0, 4));
    let user = variant!(&mentionees[1], Mentionee::User);
    assert_eq!((user.index, user.length), (5, 8));
    assert_eq!(
        user.user_id.as_deref(),
        Some("U91eeaf62d901234567890123456789ab")
    );
    assert_eq!(user.is_self, Some(false));
    let bot = variant!(&mentionees[2], Mentionee::User);
    assert_eq!((bot.user_id.as_deref(), bot.is_self), (None, Some(true)));
}

#[test]
fn image_messages() {
    let images: Vec<_> = messages("message/image.json")
        .into_iter()
        .map(|message| variant!(message, MessageContent::Image))
        .collect();
    let set = images[1].image_set.as_ref().expect("image set");
    assert_eq!((set.index, set.total), (Some(2), Some(2)));
    assert_eq!(
        images[0].image_set.as_ref().map(|set| &set.id),
        Some(&set.id)
    );
    assert_eq!(
        images[0].content_provider.provider_type,
        ContentProviderType::Line
    );
    assert_eq!(images[0].quote_token, "q3Plxr4AgKd6VVsdqtl8Ee5Y6xT4y2");
    let external = &images[2].content_provider;
    assert_eq!(external.provider_type, ContentProviderType::External);
    assert_eq!(
        external.original_content_url.as_deref(),
        Some("https://example.com/original.jpg")
    );
    assert_eq!(
        external.preview_image_url.as_deref(),
        Some("https://example.com/preview.jpg")
    );
    assert_eq!(
        images[2].mark_as_read_token.as_deref(),
        Some("30yhdy232KbaW5eGEODFzG4")
    );
}

#[test]
fn video_audio_and_file_messages() {
    let video = variant!(message("message/video.json"), MessageContent::Video);
    assert_eq!(video.duration, Some(60_000));
    assert_eq!(
        video.content_provider.provider_type,
        ContentProviderType::External
    );
    assert_eq!(video.quote_token, "q3Plxr4AgKd6VVsdqtl8Ee5Y6xT4y3");
    let audio = variant!(message("message/audio.json"), MessageContent::Audio);
    assert_eq!(
        (audio.id.as_str(), audio.duration),
        ("325709", Some(60_000))
    );
    assert_eq!(
        audio.content_provider.provider_type,
        ContentProviderType::Line
    );
    let file = variant!(message("message/file.json"), MessageContent::File);
    assert_eq!(
        (file.file_name.as_str(), file.file_size),
        ("file.txt", 2138)
    );
    assert_eq!(
        MessageContent::File(file).quote_token(),
        None,
        "files cannot be quoted"
    );
}

#[test]
fn location_message() {
    let location = variant!(message("message/location.json"), MessageContent::Location);
    assert_eq!(location.title.as_deref(), Some("my location"));
    assert!(
        location
            .address
            .as_deref()
            .is_some_and(|a| a.contains("Chiyoda-ku"))
    );
    assert!((location.latitude - 35.67966).abs() < 1e-9);
    assert!((location.longitude - 139.73669).abs() < 1e-9);
}

#[test]
fn sticker_messages() {
    let stickers: Vec<_> = messages("message/sticker.json")
        .into_iter()
        .map(|message| variant!(message, MessageContent::Sticker))
        .collect();
    assert_eq!(
        stickers[0].sticker_resource_type,
        StickerResourceType::Animation
    );
    assert_eq!(
        (
            stickers[0].package_id.as_str(),
            stickers[0].sticker_id.as_str()
        ),
        ("11537", "52002738")
    );
    assert_eq!(stickers[0].keywords.as_ref().map(Vec::len), Some(14));
    assert_eq!(
        stickers[1].sticker_resource_type,
        StickerResourceType::Message
    );
    assert_eq!(
        stickers[1].text.as_deref(),
        Some("Let's hang out this weekend!")
    );
    assert_eq!(
        stickers[1].quoted_message_id.as_deref(),
        Some("468789577898262530")
    );
}

// ----- source types ---------------------------------------------------------------------------

#[test]
fn sources_give_chat_keys_and_user_ids() {
    let user = event("source/user.json");
    assert_eq!(user.chat_key().as_deref(), Some(USER));
    assert_eq!(user.source.as_ref().and_then(Source::user_id), Some(USER));

    // Group and room sources differ only in where the chat ID lives.
    type ChatOf = fn(&Source) -> (&str, Option<&str>);
    let chats: [(&str, &str, ChatOf); 2] = [
        ("source/group.json", GROUP, |source| {
            let source = variant!(source, Source::Group);
            (source.group_id.as_str(), source.user_id.as_deref())
        }),
        ("source/room.json", ROOM, |source| {
            let source = variant!(source, Source::Room);
            (source.room_id.as_str(), source.user_id.as_deref())
        }),
    ];
    for (name, chat, chat_of) in chats {
        let events = events(name);
        assert_eq!(
            chat_of(events[0].source.as_ref().expect("source")),
            (chat, Some(USER)),
            "{name}"
        );
        assert_eq!(
            events[0].chat_key().as_deref(),
            Some(chat),
            "{name}: the group or room, not the user, is the chat"
        );
        assert_eq!(events[1].chat_key().as_deref(), Some(chat), "{name}");
        assert_eq!(
            events[1].source.as_ref().and_then(Source::user_id),
            None,
            "{name}"
        );
    }
}

// ----- unknown types --------------------------------------------------------------------------

#[test]
fn unknown_event_type_keeps_its_json() {
    let event = event("unknown/event_type.json");
    assert_eq!(event.event_type(), "futureThing");
    assert_eq!(
        event.chat_key().as_deref(),
        Some(USER),
        "common fields still parse"
    );
    let EventKind::Unknown { event_type, raw } = &event.kind else {
        panic!("expected Unknown, got {:?}", event.kind)
    };
    assert_eq!(event_type, "futureThing");
    assert_eq!(
        raw["futureThing"],
        json!({ "level": 3, "tags": ["a", "b"] })
    );
    assert_eq!(raw["type"], "futureThing");
}

#[test]
fn things_events_are_not_in_the_spec_and_parse_as_unknown() {
    let event = event("unknown/things_event.json");
    assert!(matches!(&event.kind, EventKind::Unknown { event_type, .. } if event_type == "things"));
}

#[test]
fn unknown_message_type_keeps_its_json() {
    let event = event("unknown/message_type.json");
    assert_eq!(
        event.line_message_id(),
        Some("325712"),
        "the id is read from the raw JSON"
    );
    let message = variant!(event.kind, EventKind::Message).message;
    let MessageContent::Unknown { message_type, raw } = message else {
        panic!("expected Unknown, got {message:?}")
    };
    assert_eq!(message_type, "hologram");
    assert_eq!(raw["frames"], 24);
}

#[test]
fn unknown_source_type_keeps_its_json() {
    let event = event("unknown/source_type.json");
    let source = event.source.clone().expect("source");
    assert_eq!(source.type_name(), "community");
    let Source::Unknown { source_type, raw } = &source else {
        panic!("expected Unknown, got {source:?}")
    };
    assert_eq!(source_type, "community");
    assert_eq!(raw["communityId"], "X1234");
    assert_eq!(
        event.chat_key(),
        None,
        "an unknown source cannot be placed in a chat"
    );
    assert_eq!(source.user_id(), None);
}

#[test]
fn unknown_sticker_resource_type_is_kept() {
    let sticker = variant!(
        message("unknown/sticker_resource_type.json"),
        MessageContent::Sticker
    );
    assert_eq!(
        sticker.sticker_resource_type,
        StickerResourceType::Unknown("HOLOGRAM".into())
    );
    assert_eq!(sticker.sticker_resource_type.as_str(), "HOLOGRAM");
}

#[test]
fn unknown_mentionee_module_and_mode_are_kept() {
    let text = variant!(message("unknown/mentionee_type.json"), MessageContent::Text);
    let mentionee = &text.mention.expect("mention").mentionees[0];
    assert!(
        matches!(mentionee, Mentionee::Unknown { mentionee_type, raw }
        if mentionee_type == "team" && raw["teamId"] == "T1")
    );

    let module = variant!(event("unknown/module_type.json").kind, EventKind::Module).module;
    assert!(
        matches!(&module, ModuleContent::Unknown { module_type, .. } if module_type == "paused")
    );

    assert_eq!(
        event("unknown/mode.json").mode,
        Mode::Unknown("dormant".into())
    );
}

#[test]
fn unknown_enum_values_are_kept() {
    let events = events("unknown/enum_values.json");
    let image = variant!(
        variant!(&events[0].kind, EventKind::Message)
            .message
            .clone(),
        MessageContent::Image
    );
    assert_eq!(
        image.content_provider.provider_type,
        ContentProviderType::Unknown("cdn".into())
    );
    let beacon = &variant!(&events[1].kind, EventKind::Beacon).beacon;
    assert_eq!(beacon.beacon_type, BeaconType::Unknown("leave".into()));
    let link = &variant!(&events[2].kind, EventKind::AccountLink).link;
    assert_eq!(link.result, LinkResult::Unknown("pending".into()));
    let membership = &variant!(&events[3].kind, EventKind::Membership).membership;
    assert_eq!(
        membership.membership_type,
        MembershipType::Unknown("paused".into())
    );
    let module = &variant!(&events[4].kind, EventKind::Module).module;
    let detached = variant!(module, ModuleContent::Detached);
    assert_eq!(detached.reason, DetachedReason::Unknown("expired".into()));
}

#[test]
fn unknown_types_never_fail_whatever_they_hold() {
    let weird = json!({
        "type": "hyperspace", "mode": "active", "timestamp": 5,
        "source": { "type": "galaxy" },
        "message": { "no": "id" }, "follow": 17, "list": [1, [2, { "x": null }]]
    });
    let parsed = parse_body(body_of(&[weird]).as_bytes()).expect("unknown types are never errors");
    assert_eq!(parsed.events[0].event.event_type(), "hyperspace");

    let mut message = text_event();
    message["message"] = json!({ "type": "quantum" });
    let parsed = parse_body(body_of(&[message]).as_bytes()).expect("unknown message types too");
    assert_eq!(parsed.events[0].event.line_message_id(), None);
}

// ----- dedupe keys ----------------------------------------------------------------------------

fn only(body: WebhookBody) -> ParsedEvent {
    let [event]: [ParsedEvent; 1] = body.events.try_into().expect("exactly one event");
    event
}

#[test]
fn dedupe_key_is_the_webhook_event_id_when_present() {
    let event = only(parse("event/unfollow.json"));
    assert_eq!(event.dedupe_key(), "01H810YECXQQZ37VAXPF6H9E05");
}

#[test]
fn redeliveries_without_webhook_event_id_share_a_dedupe_key() {
    let original = only(parse("redelivery/original.json"));
    let redelivered = only(parse("redelivery/redelivered.json"));
    assert!(!original.event.is_redelivery());
    assert!(redelivered.event.is_redelivery());
    assert_ne!(original.raw.get(), redelivered.raw.get());
    assert_eq!(original.dedupe_key(), redelivered.dedupe_key());

    // Pinned: SHA-256 of the canonical JSON (sorted keys, no whitespace, no deliveryContext),
    // so keys already stored stay valid.
    let canonical = concat!(
        r#"{"message":{"id":"468789577898262530","quoteToken":"q3Plxr4AgKd6VVsdqtl8Ee5Y6xT4y1","#,
        r#""text":"Hello, world","type":"text"},"mode":"active","#,
        r#""replyToken":"nHuyWiB7yP5Zw52FIkcQobQuGDXCTA","#,
        r#""source":{"type":"user","userId":"U4af4980629c4ed1e5d4d3bb8a8f7d5a9"},"#,
        r#""timestamp":1692251666727,"type":"message"}"#
    );
    let digest: String = Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(original.dedupe_key(), format!("sha256:{digest}"));
    assert_eq!(
        original.dedupe_key(),
        "sha256:2c96d4660856641a919223da84d12eb5df29c0e61ccad235fdbe1edd8adda093"
    );
}

#[test]
fn different_events_without_webhook_event_id_get_different_dedupe_keys() {
    let mut event: Value =
        serde_json::from_str(only(parse("redelivery/original.json")).raw.get()).expect("JSON");
    let key_of = |event: &Value| {
        only(parse_body(body_of(std::slice::from_ref(event)).as_bytes()).expect("valid"))
            .dedupe_key()
    };
    let first = key_of(&event);
    event["timestamp"] = json!(1_692_251_666_728_i64);
    let second = key_of(&event);
    event["message"]["id"] = json!("468789577898262531");
    let third = key_of(&event);
    assert_ne!(first, second);
    assert_ne!(second, third);
    assert_ne!(first, third);
}

// ----- malformed bodies -----------------------------------------------------------------------

#[test]
fn message_event_without_message_id_names_the_path() {
    let bad = edited("/message/id", None);
    let err = parse_err(&body_of(&[text_event(), text_event(), bad]));
    assert_eq!(err.to_string(), "events[2].message: missing field `id`");
    assert_eq!(err.path(), "events[2].message");
    assert_eq!(err.message(), "missing field `id`");
    assert!(matches!(err, ParseError::Invalid { .. }));
}

#[test]
fn body_that_is_not_json() {
    for body in [
        "not json",
        "",
        "{\"destination\":\"U0\",\"events\":[{\"type\":",
    ] {
        let err = parse_err(body);
        assert!(
            matches!(err, ParseError::Syntax { .. }),
            "{body:?}: {err:?}"
        );
        assert!(
            err.to_string().contains("invalid JSON at line 1 column"),
            "{err}"
        );
    }
    let err = parse_err("not json");
    assert_eq!(err.path(), "body");
    assert!(err.to_string().starts_with("body: invalid JSON"), "{err}");
    let err = parse_err(r#"{"destination":"U0","events":[]} trailing"#);
    assert!(matches!(err, ParseError::Syntax { .. }), "{err:?}");
    assert!(err.to_string().contains("trailing characters"), "{err}");
}

#[test]
fn body_of_the_wrong_shape() {
    let cases = [
        (
            r#"{"destination":"U0","events":{}}"#,
            "events: invalid type: map, expected a sequence",
        ),
        (
            r#"{"destination":"U0","events":"none"}"#,
            "events: invalid type: string \"none\", expected a sequence",
        ),
        (r#"{"events":[]}"#, "body: missing field `destination`"),
        (r#"{"destination":"U0"}"#, "body: missing field `events`"),
        (
            r#"{"destination":7,"events":[]}"#,
            "destination: invalid type: integer `7`, expected a string",
        ),
        (
            r#""x""#,
            "body: invalid type: string \"x\", expected struct WebhookBody",
        ),
        (
            r#"{"destination":"U0","events":[3]}"#,
            "events[0]: invalid type: integer `3`, expected struct Event",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(parse_err(body).to_string(), expected, "{body}");
    }
}

#[test]
fn known_types_with_missing_or_wrong_fields_name_the_path() {
    let mention = json!({ "mentionees": [
        { "type": "all", "index": 0, "length": 4 },
        { "type": "user", "length": 2 },
    ] });
    let sticker = json!({
        "type": "sticker", "id": "1", "quoteToken": "q", "packageId": "1", "stickerId": "1",
        "stickerResourceType": 5,
    });
    let cases = [
        ("/type", None, "events[1]: missing field `type`"),
        (
            "/type",
            Some(json!(1)),
            "events[1].type: invalid type: integer `1`, expected a string",
        ),
        (
            "/timestamp",
            Some(json!("now")),
            "events[1].timestamp: invalid type: string \"now\", expected i64",
        ),
        ("/mode", None, "events[1]: missing field `mode`"),
        ("/message", None, "events[1]: missing field `message`"),
        (
            "/message/text",
            None,
            "events[1].message: missing field `text`",
        ),
        (
            "/message/quoteToken",
            None,
            "events[1].message: missing field `quoteToken`",
        ),
        (
            "/source",
            Some(json!({ "type": "group" })),
            "events[1].source: missing field `groupId`",
        ),
        (
            "/deliveryContext",
            Some(json!({})),
            "events[1].deliveryContext: missing field `isRedelivery`",
        ),
        (
            "/message/mention",
            Some(mention),
            "events[1].message.mention.mentionees[1]: missing field `index`",
        ),
        (
            "/message",
            Some(sticker),
            "events[1].message.stickerResourceType: invalid type: integer `5`, expected a string",
        ),
    ];
    for (pointer, value, expected) in cases {
        let body = body_of(&[text_event(), edited(pointer, value)]);
        assert_eq!(parse_err(&body).to_string(), expected, "{pointer}");
    }
    let follow_without_detail =
        json!({ "type": "follow", "mode": "active", "timestamp": 1, "replyToken": "r" });
    assert_eq!(
        parse_err(&body_of(&[follow_without_detail])).to_string(),
        "events[0]: missing field `follow`"
    );
}
