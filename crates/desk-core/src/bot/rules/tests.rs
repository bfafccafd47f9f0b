use proptest::prelude::*;
use serde_json::json;

use super::*;

fn bot(v: serde_json::Value) -> RulesBot {
    serde_json::from_value(v).expect("valid bot")
}

/// A shop bot: greeting, a keyword rule with a menu, a postback rule, a pattern rule,
/// a fallback, an away message and the handoff rule.
fn shop() -> RulesBot {
    bot(json!({
        "default_language": "ja",
        "greeting": {"messages": [{"type": "text", "text": {"ja": "いらっしゃいませ", "en": "Welcome"}}]},
        "greet_on_follow": true,
        "rules": [
            {"name": "hours", "trigger": {"type": "keyword", "keywords": ["営業時間", "Hours"]},
             "reply": {"messages": [{"type": "text", "text": {"ja": "9時〜18時です", "en": "We open 9–18"}}],
                       "quick_replies": [
                           {"label": {"ja": "店舗", "en": "Shops"}, "action": {"type": "postback", "data": "shops"}},
                           {"label": {"ja": "担当者と話す", "en": "Talk to a person"}, "action": {"type": "handoff"}}
                       ]}},
            {"trigger": {"type": "postback", "data": "shops"},
             "reply": {"messages": [{"type": "sticker", "package_id": "446", "sticker_id": "1988"},
                                    {"type": "image", "url": "https://example.com/map.png"}]}},
            {"trigger": {"type": "regex", "pattern": "order\\s*#?\\d{4,}"},
             "reply": {"messages": [{"type": "text", "text": {"en": "Let me check your order."}}]}}
        ],
        "fallback": {"messages": [{"type": "text", "text": {"ja": "すみません、分かりません", "en": "Sorry, I don't know"}}]},
        "away": {"messages": [{"type": "text", "text": {"ja": "営業時間外です", "en": "We are closed"}}]},
        "handoff": {"keywords": ["オペレーター", "human"],
                    "message": {"messages": [{"type": "text", "text": {"ja": "担当者におつなぎします", "en": "Connecting you"}}]}}
    }))
}

fn situation(language: Language) -> Situation {
    Situation {
        language,
        open: true,
        new_chat: false,
        unanswered: None,
    }
}

fn texts(answer: &Answer) -> Vec<&str> {
    answer
        .messages
        .iter()
        .filter_map(|m| match m {
            OutMessage::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn keyword_answers_in_the_contacts_language_with_buttons() {
    let out = shop().respond(
        Trigger::Text("What are your HOURS?"),
        &situation(Language::En),
    );
    assert_eq!(texts(&out.reply.answer), vec!["We open 9–18"]);
    assert_eq!(out.reply.then, After::Stay);
    assert_eq!(out.unanswered, None);
    let buttons = &out.reply.answer.quick_replies;
    assert_eq!(buttons[0].label, "Shops");
    assert_eq!(
        buttons[1].action,
        ButtonAction::Postback {
            data: DEFAULT_HANDOFF_POSTBACK.into(),
            display_text: Some("Talk to a person".into())
        }
    );
}

#[test]
fn a_new_chat_is_greeted_before_the_answer() {
    let mut s = situation(Language::Ja);
    s.new_chat = true;
    let out = shop().respond(Trigger::Text("営業時間は？"), &s);
    assert_eq!(
        texts(&out.reply.answer),
        vec!["いらっしゃいませ", "9時〜18時です"]
    );
    let follow = shop().respond(Trigger::Follow, &situation(Language::Ja));
    assert_eq!(texts(&follow.reply.answer), vec!["いらっしゃいませ"]);
}

#[test]
fn postbacks_and_patterns_match_their_rules() {
    let out = shop().respond(Trigger::Postback("shops"), &situation(Language::Ja));
    assert_eq!(out.reply.answer.messages.len(), 2);
    assert!(
        matches!(out.reply.answer.messages[1], OutMessage::Image { ref preview_url, .. } if preview_url == "https://example.com/map.png")
    );
    let out = shop().respond(
        Trigger::Text("about Order #12345"),
        &situation(Language::Ja),
    );
    // English only: Japanese falls back to it.
    assert_eq!(texts(&out.reply.answer), vec!["Let me check your order."]);
}

#[test]
fn handoff_by_keyword_button_or_repeated_question() {
    let b = shop();
    let by_word = b.respond(
        Trigger::Text("オペレーターお願いします"),
        &situation(Language::Ja),
    );
    assert_eq!(by_word.reply.then, After::Handoff { department: None });
    assert_eq!(texts(&by_word.reply.answer), vec!["担当者におつなぎします"]);
    let by_button = b.respond(
        Trigger::Postback(DEFAULT_HANDOFF_POSTBACK),
        &situation(Language::En),
    );
    assert_eq!(by_button.reply.then, After::Handoff { department: None });

    let first = b.respond(
        Trigger::Text("Do you sell  bikes?"),
        &situation(Language::En),
    );
    assert_eq!(first.reply.then, After::Stay);
    assert_eq!(texts(&first.reply.answer), vec!["Sorry, I don't know"]);
    assert_eq!(first.unanswered.as_deref(), Some("do you sell bikes"));
    let mut again = situation(Language::En);
    again.unanswered = first.unanswered;
    let second = b.respond(Trigger::Text("do you sell bikes"), &again);
    assert_eq!(second.reply.then, After::Handoff { department: None });
    // A different question is not a repeat.
    let other = b.respond(Trigger::Text("and cars?"), &again);
    assert_eq!(other.reply.then, After::Stay);
}

#[test]
fn outside_business_hours_the_handoff_says_the_away_message() {
    let mut closed = situation(Language::Ja);
    closed.open = false;
    let out = shop().respond(Trigger::Text("human please"), &closed);
    assert_eq!(out.reply.then, After::Handoff { department: None });
    assert_eq!(texts(&out.reply.answer), vec!["営業時間外です"]);
}

#[test]
fn invalid_settings_name_the_field() {
    let err = |v: serde_json::Value| {
        RulesBot::new(serde_json::from_value(v).expect("shape"))
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        err(
            json!({"rules": [{"trigger": {"type": "regex", "pattern": "(unclosed"},
                              "reply": {"messages": [{"type": "text", "text": {"en": "x"}}]}}]})
        ),
        "rules[0].trigger.pattern: not a valid regular expression: error: unclosed group"
    );
    assert_eq!(
        err(
            json!({"rules": [{"trigger": {"type": "regex", "pattern": "\\w{1000}"},
                              "reply": {"messages": [{"type": "text", "text": {"en": "x"}}]}}]})
        ),
        "rules[0].trigger.pattern: the pattern is too complex (its compiled form exceeds 256 KiB)"
    );
    let buttons: Vec<_> = (0..14)
        .map(|i| json!({"label": {"en": format!("b{i}")}, "action": {"type": "postback", "data": "x"}}))
        .collect();
    assert_eq!(
        err(
            json!({"greeting": {"messages": [{"type": "text", "text": {"ja": "やあ"}}], "quick_replies": buttons}})
        ),
        "greeting.quick_replies: give between 0 and 13; got 14"
    );
    assert_eq!(
        err(json!({"fallback": {"messages": [{"type": "text", "text": {}}]}})),
        "fallback.messages[0].text: give the text in `ja`, `en` or both"
    );
    assert_eq!(
        err(
            json!({"rules": [{"trigger": {"type": "keyword", "keywords": []},
                              "reply": {"messages": [{"type": "text", "text": {"en": "x"}}]}}]})
        ),
        "rules[0].trigger.keywords: give between 1 and 50; got 0"
    );
    assert_eq!(
        err(json!({"away": {"messages": [{"type": "image", "url": "http://example.com/a.png"}]}})),
        "away.messages[0].url: LINE fetches images over HTTPS only: give an https:// URL"
    );
}

#[test]
fn settings_round_trip_through_json() {
    let b = shop();
    let back: RulesBot =
        serde_json::from_str(&serde_json::to_string(&b).expect("serializes")).expect("parses");
    assert_eq!(back, b);
    let empty: RulesBot = serde_json::from_str("{}").expect("defaults are valid");
    assert_eq!(
        empty.input().handoff.postback_data,
        DEFAULT_HANDOFF_POSTBACK
    );
}

proptest! {
    /// Whatever the user writes, an answer fits one LINE reply.
    #[test]
    fn answers_always_fit_one_reply(text in ".{0,80}", new_chat: bool, open: bool, ja: bool) {
        let s = Situation {
            language: if ja { Language::Ja } else { Language::En },
            open,
            new_chat,
            unanswered: None,
        };
        let out = shop().respond(Trigger::Text(&text), &s);
        prop_assert!(out.reply.answer.messages.len() <= MAX_MESSAGES);
        prop_assert!(out.reply.answer.quick_replies.len() <= MAX_QUICK_REPLIES);
        prop_assert!(out.reply.then != After::Close);
    }

    /// A keyword anywhere in any text triggers its rule.
    #[test]
    fn keywords_match_anywhere(before in "[a-z ]{0,20}", after in "[a-z ]{0,20}") {
        let text = format!("{before}HOURS{after}");
        let out = shop().respond(Trigger::Text(&text), &situation(Language::En));
        prop_assert_eq!(texts(&out.reply.answer), vec!["We open 9–18"]);
    }

    /// Any question the bot cannot answer, asked twice in a row, goes to a person.
    #[test]
    fn the_same_unanswered_question_twice_hands_off(q in "[a-z]{3,12}( [a-z]{3,12}){0,3}") {
        prop_assume!(!q.contains("hours") && !q.contains("human") && !q.contains("order"));
        let b = shop();
        let first = b.respond(Trigger::Text(&q), &situation(Language::En));
        prop_assert_eq!(first.reply.then, After::Stay);
        let mut s = situation(Language::En);
        s.unanswered = first.unanswered;
        let upper = format!("{}？", q.to_uppercase());
        let second = b.respond(Trigger::Text(&upper), &s);
        prop_assert_eq!(second.reply.then, After::Handoff { department: None });
    }
}
