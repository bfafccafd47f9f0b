//! The rules bot: a greeting, keyword / regular-expression / postback rules, a fallback, an
//! away message for outside business hours, and a handoff rule. Configured as
//! [`RulesBotInput`] (the JSON the console edits), validated into a [`RulesBot`] with its
//! patterns compiled, and run as one pure function, [`RulesBot::respond`].
//!
//! How a turn is decided:
//! - **Handoff first.** A handoff keyword in the text, or the handoff postback (the "talk to
//!   a person" button), hands the chat to the department with the handoff message — or, when
//!   the department is closed, the away message: the chat waits for the next opening.
//! - **Rules in order.** The first rule whose trigger matches answers. Keywords match
//!   anywhere in the text, ignoring case; patterns are regular expressions (size-limited, so
//!   a pattern cannot make matching slow); postback rules match the data exactly.
//! - **Unanswered.** A text no rule matches gets the fallback. If the user asks the same
//!   thing again (ignoring case, spacing and end punctuation) while it is still unanswered,
//!   the chat is handed off: the bot cannot help.
//! - **A new chat** starts with the greeting before the answer; a follow event gets only the
//!   greeting, when `greet_on_follow` is on.

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::{
    After, Answer, BotReply, ButtonAction, ConfigError, Language, Localized, MAX_MESSAGES,
    MAX_QUICK_REPLIES, OutMessage, QuickReplyButton, check_count, check_label, check_media_url,
    check_postback, check_sticker, check_text,
};

/// Rules a bot may have.
pub const MAX_RULES: usize = 200;
/// Keywords one rule (or the handoff) may have.
pub const MAX_KEYWORDS: usize = 50;
/// Longest keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 100;
/// Longest regular expression, in characters.
pub const MAX_PATTERN_CHARS: usize = 500;
/// Compiled size limit of one pattern: a bounded automaton keeps matching linear and cheap.
const PATTERN_SIZE_LIMIT: usize = 256 * 1024;
/// Postback data of the built-in "talk to a person" button, unless configured otherwise.
pub const DEFAULT_HANDOFF_POSTBACK: &str = "linedesk:handoff";

/// One message of bot content, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MessageInput {
    /// Text in Japanese and/or English.
    Text {
        /// The text.
        text: Localized,
    },
    /// A LINE sticker.
    Sticker {
        /// `packageId`.
        package_id: String,
        /// `stickerId`.
        sticker_id: String,
    },
    /// A picture by `https` URL.
    Image {
        /// The picture.
        url: String,
        /// Its thumbnail; the picture itself when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preview_url: Option<String>,
    },
}

/// What a configured button does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ButtonActionInput {
    /// The user says `text`.
    Message {
        /// The text, per language.
        text: Localized,
    },
    /// A postback with `data` (matched by postback rules).
    Postback {
        /// The data.
        data: String,
        /// Shown in the chat as if typed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        display_text: Option<Localized>,
    },
    /// The "talk to a person" button: a postback with the handoff data.
    Handoff,
}

/// A configured quick-reply button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ButtonInput {
    /// The label, per language (at most 20 characters).
    pub label: Localized,
    /// What it does.
    pub action: ButtonActionInput,
}

/// Configured content: messages and the buttons under them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentInput {
    /// 1 to 5 messages.
    pub messages: Vec<MessageInput>,
    /// Up to 13 buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<ButtonInput>,
}

/// What makes a rule answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerInput {
    /// Any of these words anywhere in the text, ignoring case.
    Keyword {
        /// The words.
        keywords: Vec<String>,
    },
    /// A regular expression (Rust `regex` syntax) found in the text.
    Regex {
        /// The pattern.
        pattern: String,
    },
    /// A postback with exactly this data (from a button or a rich menu).
    Postback {
        /// The data.
        data: String,
    },
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// A name for the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When it answers.
    pub trigger: TriggerInput,
    /// What it answers.
    pub reply: ContentInput,
}

/// When and how the bot hands a chat to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffInput {
    /// Words that ask for a person ("オペレーター", "human").
    pub keywords: Vec<String>,
    /// Postback data of the "talk to a person" button.
    pub postback_data: String,
    /// Hand off when the user repeats a question the bot could not answer.
    pub on_repeated_question: bool,
    /// Said when handing off during business hours.
    pub message: Option<ContentInput>,
}

impl Default for HandoffInput {
    fn default() -> Self {
        Self {
            keywords: Vec::new(),
            postback_data: DEFAULT_HANDOFF_POSTBACK.into(),
            on_repeated_question: true,
            message: None,
        }
    }
}

/// The rules bot's settings as the console edits them, before validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RulesBotInput {
    /// Used when the contact's LINE profile names no language the content has.
    pub default_language: Language,
    /// Said at the start of every chat.
    pub greeting: Option<ContentInput>,
    /// Also greet when someone adds the account as a friend.
    pub greet_on_follow: bool,
    /// Tried in order; the first match answers.
    pub rules: Vec<RuleInput>,
    /// Said when no rule matches.
    pub fallback: Option<ContentInput>,
    /// Said when handing off while the department is closed.
    pub away: Option<ContentInput>,
    /// The handoff rule.
    pub handoff: HandoffInput,
}

impl Default for RulesBotInput {
    fn default() -> Self {
        Self {
            default_language: Language::Ja,
            greeting: None,
            greet_on_follow: false,
            rules: Vec::new(),
            fallback: None,
            away: None,
            handoff: HandoffInput::default(),
        }
    }
}

/// How a rule's trigger is tested.
#[derive(Debug, Clone)]
enum Matcher {
    Keywords(Vec<String>),
    Pattern(Regex),
    Postback(String),
}

/// A validated rules bot. Build with [`RulesBot::new`] or deserialize (validated on the way in).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RulesBotInput", into = "RulesBotInput")]
pub struct RulesBot {
    input: RulesBotInput,
    matchers: Vec<Matcher>,
    handoff_keywords: Vec<String>,
}

impl PartialEq for RulesBot {
    fn eq(&self, other: &Self) -> bool {
        self.input == other.input
    }
}

impl TryFrom<RulesBotInput> for RulesBot {
    type Error = ConfigError;
    fn try_from(input: RulesBotInput) -> Result<Self, Self::Error> {
        Self::new(input)
    }
}

impl From<RulesBot> for RulesBotInput {
    fn from(bot: RulesBot) -> Self {
        bot.input
    }
}

/// What triggered a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger<'a> {
    /// The user added the account as a friend.
    Follow,
    /// The user wrote text.
    Text(&'a str),
    /// The user tapped a postback button.
    Postback(&'a str),
    /// The user sent something else (a sticker, a picture, …).
    Other,
}

/// What the bot knows about the chat when deciding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Situation {
    /// The contact's language.
    pub language: Language,
    /// Whether the department is open now (no business hours: always).
    pub open: bool,
    /// Whether this turn started the chat (greet first).
    pub new_chat: bool,
    /// The question the bot could not answer last time, normalized.
    pub unanswered: Option<String>,
}

/// The bot's turn and what to remember for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What to say and do.
    pub reply: BotReply,
    /// The question still unanswered after this turn (store it for next time).
    pub unanswered: Option<String>,
}

/// A question as compared for "asked again": lowercase, single spaces, no end punctuation.
pub fn normalize(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .join(" ")
        .to_lowercase()
        .trim_end_matches(['?', '？', '!', '！', '.', '。', '、', ','])
        .to_owned()
}

impl RulesBot {
    /// Validates every field (the first problem is returned, naming it) and compiles the patterns.
    pub fn new(input: RulesBotInput) -> Result<Self, ConfigError> {
        check_count("rules", input.rules.len(), 0, MAX_RULES)?;
        for (field, content) in [
            ("greeting", &input.greeting),
            ("fallback", &input.fallback),
            ("away", &input.away),
            ("handoff.message", &input.handoff.message),
        ] {
            if let Some(content) = content {
                validate_content(field, content)?;
            }
        }
        let handoff_keywords = keywords("handoff.keywords", &input.handoff.keywords, 0)?;
        check_postback("handoff.postback_data", &input.handoff.postback_data)?;
        let mut matchers = Vec::with_capacity(input.rules.len());
        for (i, rule) in input.rules.iter().enumerate() {
            let field = format!("rules[{i}]");
            matchers.push(matcher(&format!("{field}.trigger"), &rule.trigger)?);
            validate_content(&format!("{field}.reply"), &rule.reply)?;
        }
        Ok(Self {
            input,
            matchers,
            handoff_keywords,
        })
    }

    /// The settings as configured.
    pub fn input(&self) -> &RulesBotInput {
        &self.input
    }

    /// Decides the bot's turn. Pure: the caller stores [`Outcome::unanswered`] for the next turn.
    pub fn respond(&self, trigger: Trigger<'_>, situation: &Situation) -> Outcome {
        let language = situation.language;
        let render = |content: &Option<ContentInput>| {
            content
                .as_ref()
                .map(|c| self.render(c, language))
                .unwrap_or_default()
        };
        let greeting = match (trigger, situation.new_chat) {
            (Trigger::Follow, _) if self.input.greet_on_follow => render(&self.input.greeting),
            (Trigger::Follow, _) => Answer::default(),
            (_, true) => render(&self.input.greeting),
            (_, false) => Answer::default(),
        };
        let stay = |answer: Answer, unanswered: Option<String>| Outcome {
            reply: BotReply {
                answer,
                then: After::Stay,
            },
            unanswered,
        };
        let handoff = || {
            let said = if situation.open {
                render(&self.input.handoff.message)
            } else {
                render(&self.input.away)
            };
            Outcome {
                reply: BotReply {
                    answer: greeting.clone().then(said),
                    then: After::Handoff { department: None },
                },
                unanswered: None,
            }
        };
        match trigger {
            Trigger::Follow => stay(greeting, None),
            Trigger::Postback(data) if data == self.input.handoff.postback_data => handoff(),
            Trigger::Postback(data) => match self.first_match(|m| match m {
                Matcher::Postback(d) => d == data,
                _ => false,
            }) {
                Some(reply) => stay(greeting.then(self.render(reply, language)), None),
                // An old menu's button: not a question, so not "unanswered".
                None => stay(
                    greeting.then(render(&self.input.fallback)),
                    situation.unanswered.clone(),
                ),
            },
            Trigger::Text(text) => {
                let lower = text.to_lowercase();
                if self.handoff_keywords.iter().any(|k| lower.contains(k)) {
                    return handoff();
                }
                let found = self.first_match(|m| match m {
                    Matcher::Keywords(words) => words.iter().any(|k| lower.contains(k)),
                    Matcher::Pattern(re) => re.is_match(text),
                    Matcher::Postback(_) => false,
                });
                if let Some(reply) = found {
                    return stay(greeting.then(self.render(reply, language)), None);
                }
                let question = normalize(text);
                if self.input.handoff.on_repeated_question
                    && !question.is_empty()
                    && situation.unanswered.as_deref() == Some(question.as_str())
                {
                    return handoff();
                }
                stay(greeting.then(render(&self.input.fallback)), Some(question))
            }
            Trigger::Other => stay(
                greeting.then(render(&self.input.fallback)),
                situation.unanswered.clone(),
            ),
        }
    }

    /// The reply of the first rule whose matcher passes `test`.
    fn first_match(&self, test: impl Fn(&Matcher) -> bool) -> Option<&ContentInput> {
        self.matchers
            .iter()
            .zip(&self.input.rules)
            .find(|(m, _)| test(m))
            .map(|(_, rule)| &rule.reply)
    }

    fn render(&self, content: &ContentInput, language: Language) -> Answer {
        render(content, language, &self.input.handoff.postback_data)
    }
}

/// Content in one language, ready to send.
fn render(content: &ContentInput, language: Language, handoff_data: &str) -> Answer {
    let messages = content
        .messages
        .iter()
        .map(|m| match m {
            MessageInput::Text { text } => OutMessage::Text {
                text: text.pick(language).to_owned(),
            },
            MessageInput::Sticker {
                package_id,
                sticker_id,
            } => OutMessage::Sticker {
                package_id: package_id.clone(),
                sticker_id: sticker_id.clone(),
            },
            MessageInput::Image { url, preview_url } => OutMessage::Image {
                url: url.clone(),
                preview_url: preview_url.clone().unwrap_or_else(|| url.clone()),
            },
        })
        .collect();
    let quick_replies = content
        .quick_replies
        .iter()
        .map(|b| QuickReplyButton {
            label: b.label.pick(language).to_owned(),
            action: match &b.action {
                ButtonActionInput::Message { text } => ButtonAction::Message {
                    text: text.pick(language).to_owned(),
                },
                ButtonActionInput::Postback { data, display_text } => ButtonAction::Postback {
                    data: data.clone(),
                    display_text: display_text.as_ref().map(|t| t.pick(language).to_owned()),
                },
                ButtonActionInput::Handoff => ButtonAction::Postback {
                    data: handoff_data.to_owned(),
                    display_text: Some(b.label.pick(language).to_owned()),
                },
            },
        })
        .collect();
    Answer {
        messages,
        quick_replies,
    }
}

fn validate_content(field: &str, content: &ContentInput) -> Result<(), ConfigError> {
    check_count(
        &format!("{field}.messages"),
        content.messages.len(),
        1,
        MAX_MESSAGES,
    )?;
    for (i, message) in content.messages.iter().enumerate() {
        let field = format!("{field}.messages[{i}]");
        match message {
            MessageInput::Text { text } => text.validate(&format!("{field}.text"), check_text)?,
            MessageInput::Sticker {
                package_id,
                sticker_id,
            } => check_sticker(&field, package_id, sticker_id)?,
            MessageInput::Image { url, preview_url } => {
                check_media_url(&format!("{field}.url"), url)?;
                if let Some(preview) = preview_url {
                    check_media_url(&format!("{field}.preview_url"), preview)?;
                }
            }
        }
    }
    check_count(
        &format!("{field}.quick_replies"),
        content.quick_replies.len(),
        0,
        MAX_QUICK_REPLIES,
    )?;
    for (i, button) in content.quick_replies.iter().enumerate() {
        let field = format!("{field}.quick_replies[{i}]");
        button
            .label
            .validate(&format!("{field}.label"), check_label)?;
        match &button.action {
            ButtonActionInput::Message { text } => {
                text.validate(&format!("{field}.action.text"), check_text)?
            }
            ButtonActionInput::Postback { data, display_text } => {
                check_postback(&format!("{field}.action.data"), data)?;
                if let Some(shown) = display_text {
                    shown.validate(&format!("{field}.action.display_text"), check_text)?;
                }
            }
            ButtonActionInput::Handoff => {}
        }
    }
    Ok(())
}

/// Keywords, lowercased for matching; at least `min` of them, none blank or too long.
fn keywords(field: &str, words: &[String], min: usize) -> Result<Vec<String>, ConfigError> {
    check_count(field, words.len(), min, MAX_KEYWORDS)?;
    words
        .iter()
        .enumerate()
        .map(|(i, word)| {
            let chars = word.trim().chars().count();
            if chars == 0 || chars > MAX_KEYWORD_CHARS {
                return Err(ConfigError::new(
                    format!("{field}[{i}]"),
                    format!("a keyword has 1 to {MAX_KEYWORD_CHARS} characters; got {chars}"),
                ));
            }
            Ok(word.trim().to_lowercase())
        })
        .collect()
}

fn matcher(field: &str, trigger: &TriggerInput) -> Result<Matcher, ConfigError> {
    Ok(match trigger {
        TriggerInput::Keyword { keywords: words } => {
            Matcher::Keywords(keywords(&format!("{field}.keywords"), words, 1)?)
        }
        TriggerInput::Regex { pattern } => {
            let field = format!("{field}.pattern");
            let chars = pattern.chars().count();
            if pattern.is_empty() || chars > MAX_PATTERN_CHARS {
                return Err(ConfigError::new(
                    field,
                    format!("a pattern has 1 to {MAX_PATTERN_CHARS} characters; got {chars}"),
                ));
            }
            let re = RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(PATTERN_SIZE_LIMIT)
                .dfa_size_limit(PATTERN_SIZE_LIMIT)
                .build()
                .map_err(|e| ConfigError::new(field, pattern_error(&e)))?;
            Matcher::Pattern(re)
        }
        TriggerInput::Postback { data } => {
            check_postback(&format!("{field}.data"), data)?;
            Matcher::Postback(data.clone())
        }
    })
}

/// The regex crate's message, on one line (its syntax errors draw a multi-line caret diagram).
fn pattern_error(e: &regex::Error) -> String {
    match e {
        regex::Error::CompiledTooBig(_) => {
            "the pattern is too complex (its compiled form exceeds 256 KiB)".into()
        }
        other => {
            let text = other.to_string();
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            format!("not a valid regular expression: {}", last.trim())
        }
    }
}

#[cfg(test)]
mod tests;
