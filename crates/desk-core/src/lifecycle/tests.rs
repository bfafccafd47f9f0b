//! Lifecycle rules, timers on an injected clock (plain `now` values, no sleeping), and
//! property tests over random command sequences.

use super::*;
use crate::hours::{OpenInterval, WeeklySchedule};
use crate::settings::{ChannelSettingsInput, MissedWindow};
use crate::time::{DAY, HOUR, MINUTE, SECOND};
use jiff::civil::Weekday;
use proptest::prelude::*;
use uuid::Uuid;

/// 2026-03-02 00:00 UTC, a Monday.
const T0: Millis = 1_772_409_600_000;

fn op(n: u128) -> OperatorId {
    OperatorId(Uuid::from_u128(n))
}

fn dept(n: u128) -> DepartmentId {
    DepartmentId(Uuid::from_u128(0xD000 + n))
}

fn settings(edit: impl FnOnce(&mut ChannelSettingsInput)) -> ChannelSettings {
    let mut input = ChannelSettingsInput::default();
    edit(&mut input);
    ChannelSettings::new(input).expect("test settings are valid")
}

fn new_chat() -> NewConversation {
    NewConversation {
        id: ConversationId(Uuid::from_u128(1)),
        contact: ContactId(Uuid::from_u128(2)),
        department: dept(0),
        previous: None,
    }
}

/// Applies a command that must succeed, without business hours.
fn run(conv: &Conversation, cmd: Command, s: &ChannelSettings, now: Millis) -> Transition {
    apply(conv, cmd, s, None, now).expect("command accepted")
}

fn fire(conv: &Conversation, kind: TimerKind, s: &ChannelSettings, now: Millis) -> Transition {
    run(conv, Command::TimerFired { kind }, s, now)
}

/// A chat opened by operator 1 at `T0` (taken over from the bot when the bot is on).
fn open_chat(s: &ChannelSettings) -> Conversation {
    let started = Conversation::start(new_chat(), s, T0).conversation;
    let operator = op(1);
    let cmd = if started.state() == ConversationState::Bot {
        Command::TakeOver { operator }
    } else {
        Command::Accept { operator }
    };
    run(&started, cmd, s, T0).conversation
}

fn closing(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[test]
fn a_new_chat_waits_in_its_department_with_a_pickup_deadline() {
    let s = settings(|_| {});
    let t = Conversation::start(new_chat(), &s, T0);
    assert_eq!(
        t.conversation.phase,
        Phase::Waiting {
            assignee: None,
            pickup_deadline_ms: T0 + 2 * MINUTE
        }
    );
    assert_eq!(
        t.effects,
        vec![
            Effect::Timeline(TimelineEvent::Started { with_bot: false }),
            Effect::Route {
                department: dept(0)
            },
        ]
    );
    assert_eq!(
        t.conversation.next_deadline(),
        Some((TimerKind::Pickup, T0 + 2 * MINUTE))
    );
}

#[test]
fn with_the_bot_on_a_new_chat_starts_with_the_bot() {
    let s = settings(|s| {
        s.bot_enabled = true;
        s.bot_idle_close_ms = 10 * MINUTE;
    });
    let t = Conversation::start(new_chat(), &s, T0);
    assert_eq!(
        t.conversation.phase,
        Phase::Bot {
            idle_close_at_ms: T0 + 10 * MINUTE
        }
    );
    // Not routed: the department sees it only after a handoff.
    assert_eq!(
        t.effects,
        vec![Effect::Timeline(TimelineEvent::Started { with_bot: true })]
    );
}

#[test]
fn every_missed_window_closes_exactly_on_time() {
    for &window in MissedWindow::ALL {
        let s = settings(|s| s.missed_window = window);
        let waiting = Conversation::start(new_chat(), &s, T0).conversation;
        let pickup = T0 + 2 * MINUTE;

        assert!(!fire(&waiting, TimerKind::Pickup, &s, pickup - 1).changed);
        let missed = fire(&waiting, TimerKind::Pickup, &s, pickup);
        assert_eq!(
            missed.effects,
            vec![Effect::Timeline(TimelineEvent::Missed)]
        );
        let missed = missed.conversation;
        let close_at = pickup + window.as_millis();
        assert_eq!(
            missed.phase,
            Phase::Missed {
                assignee: None,
                missed_close_at_ms: close_at
            }
        );

        // Still answerable until the window ends; a user message does not extend it.
        let nudged = run(
            &missed,
            Command::UserMessage,
            &s,
            close_at - HOUR.min(window.as_millis() / 2),
        );
        assert_eq!(
            nudged.conversation.next_deadline(),
            Some((TimerKind::MissedClose, close_at))
        );
        assert!(!fire(&missed, TimerKind::MissedClose, &s, close_at - 1).changed);
        let closed = fire(&missed, TimerKind::MissedClose, &s, close_at);
        assert_eq!(
            closed.conversation.close_reason(),
            Some(CloseReason::MissedTimeout)
        );
        assert_eq!(
            closed.effects,
            vec![
                Effect::Timeline(TimelineEvent::Closed {
                    reason: CloseReason::MissedTimeout,
                    by: None
                }),
                Effect::Unroute,
            ]
        );
        // The same timer again (a second worker, a retry) changes nothing.
        assert!(
            !fire(
                &closed.conversation,
                TimerKind::MissedClose,
                &s,
                close_at + 1
            )
            .changed
        );
    }
    assert_eq!(MissedWindow::OneMonth.as_millis(), 30 * DAY);
}

#[test]
fn a_late_timer_worker_does_not_lengthen_the_missed_window() {
    let s = settings(|s| s.missed_window = MissedWindow::FifteenMinutes);
    let waiting = Conversation::start(new_chat(), &s, T0).conversation;
    let missed = fire(&waiting, TimerKind::Pickup, &s, T0 + HOUR).conversation;
    // Due already: the window ran from the pickup deadline.
    assert_eq!(missed.due_timer(T0 + HOUR), Some(TimerKind::MissedClose));
    assert_eq!(
        missed.next_deadline(),
        Some((TimerKind::MissedClose, T0 + 2 * MINUTE + 15 * MINUTE))
    );
}

#[test]
fn answering_a_missed_chat_opens_it() {
    let s = settings(|s| s.idle_close_ms = Some(30 * MINUTE));
    let waiting = Conversation::start(new_chat(), &s, T0).conversation;
    let missed = fire(&waiting, TimerKind::Pickup, &s, T0 + 2 * MINUTE).conversation;
    let at = T0 + 3 * HOUR;
    let t = run(
        &missed,
        Command::OperatorMessage { operator: op(7) },
        &s,
        at,
    );
    assert_eq!(
        t.conversation.phase,
        Phase::Open {
            assignee: op(7),
            idle_close_at_ms: Some(at + 30 * MINUTE)
        }
    );
    assert_eq!(t.conversation.last_message_ms, at);
    assert_eq!(
        t.effects,
        vec![
            Effect::Timeline(TimelineEvent::Accepted { operator: op(7) }),
            Effect::AssignTo { operator: op(7) },
        ]
    );
    // The old missed-close timer is moot now.
    assert!(!fire(&t.conversation, TimerKind::MissedClose, &s, T0 + 2 * DAY).changed);
}

#[test]
fn idle_resets_on_every_message_from_either_side() {
    let s = settings(|s| {
        s.idle_close_ms = Some(5 * MINUTE);
        s.closing_message = closing("Closed for now. Write again any time!");
    });
    let open = open_chat(&s);
    assert_eq!(
        open.next_deadline(),
        Some((TimerKind::IdleClose, T0 + 5 * MINUTE))
    );

    let user = run(&open, Command::UserMessage, &s, T0 + 3 * MINUTE).conversation;
    assert_eq!(
        user.next_deadline(),
        Some((TimerKind::IdleClose, T0 + 8 * MINUTE))
    );
    // The timer set for the first deadline fires and finds the deadline moved: no-op.
    assert!(!fire(&user, TimerKind::IdleClose, &s, T0 + 5 * MINUTE).changed);

    let operator = run(
        &user,
        Command::OperatorMessage { operator: op(1) },
        &s,
        T0 + 7 * MINUTE,
    )
    .conversation;
    assert_eq!(
        operator.next_deadline(),
        Some((TimerKind::IdleClose, T0 + 12 * MINUTE))
    );
    assert!(!fire(&operator, TimerKind::IdleClose, &s, T0 + 8 * MINUTE).changed);
    assert!(!fire(&operator, TimerKind::IdleClose, &s, T0 + 12 * MINUTE - 1).changed);

    let closed = fire(&operator, TimerKind::IdleClose, &s, T0 + 12 * MINUTE);
    assert_eq!(closed.conversation.close_reason(), Some(CloseReason::Idle));
    assert_eq!(
        closed.effects,
        vec![
            Effect::SendClosingMessage {
                message: ClosingMessage::parse("Closed for now. Write again any time!")
                    .expect("valid")
            },
            Effect::Timeline(TimelineEvent::Closed {
                reason: CloseReason::Idle,
                by: None
            }),
            Effect::Unroute,
        ]
    );
}

#[test]
fn a_message_processed_late_never_moves_the_deadline_back() {
    let s = settings(|s| s.idle_close_ms = Some(5 * MINUTE));
    let open = open_chat(&s);
    let newer = run(&open, Command::UserMessage, &s, T0 + 4 * MINUTE).conversation;
    let older = run(&newer, Command::UserMessage, &s, T0 + MINUTE).conversation;
    assert_eq!(older.last_message_ms, T0 + 4 * MINUTE);
    assert_eq!(
        older.next_deadline(),
        Some((TimerKind::IdleClose, T0 + 9 * MINUTE))
    );
}

#[test]
fn idle_close_off_means_no_idle_deadline() {
    let s = settings(|_| {});
    let open = open_chat(&s);
    assert_eq!(open.next_deadline(), None);
    let later = run(&open, Command::UserMessage, &s, T0 + DAY).conversation;
    assert_eq!(later.next_deadline(), None);
    assert!(!fire(&later, TimerKind::IdleClose, &s, T0 + 400 * DAY).changed);
}

#[test]
fn bot_idle_applies_while_the_bot_holds_the_chat() {
    let s = settings(|s| {
        s.bot_enabled = true;
        s.bot_idle_close_ms = 10 * MINUTE;
        s.bot_closing_message = closing("Bye from the bot");
        s.idle_close_ms = Some(30 * MINUTE);
        s.closing_message = closing("Bye from the team");
    });
    let bot = Conversation::start(new_chat(), &s, T0).conversation;
    // User and bot messages both reset the bot's idle clock.
    let bot = run(&bot, Command::UserMessage, &s, T0 + 4 * MINUTE).conversation;
    let bot = run(&bot, Command::BotMessage, &s, T0 + 6 * MINUTE).conversation;
    assert_eq!(
        bot.next_deadline(),
        Some((TimerKind::IdleClose, T0 + 16 * MINUTE))
    );
    assert!(!fire(&bot, TimerKind::IdleClose, &s, T0 + 10 * MINUTE).changed);
    let closed = fire(&bot, TimerKind::IdleClose, &s, T0 + 16 * MINUTE);
    assert_eq!(
        closed.conversation.close_reason(),
        Some(CloseReason::BotIdle)
    );
    assert_eq!(
        closed.effects,
        vec![
            Effect::SendClosingMessage {
                message: ClosingMessage::parse("Bye from the bot").expect("valid")
            },
            // Bot chats are not routed, so nothing to unroute.
            Effect::Timeline(TimelineEvent::Closed {
                reason: CloseReason::BotIdle,
                by: None
            }),
        ]
    );

    // Taken over, the operator window applies, and closes as `idle`.
    let taken = run(
        &bot,
        Command::TakeOver { operator: op(3) },
        &s,
        T0 + 8 * MINUTE,
    )
    .conversation;
    assert_eq!(
        taken.next_deadline(),
        Some((TimerKind::IdleClose, T0 + 38 * MINUTE))
    );
    assert!(!fire(&taken, TimerKind::IdleClose, &s, T0 + 16 * MINUTE).changed);
    let closed = fire(&taken, TimerKind::IdleClose, &s, T0 + 38 * MINUTE);
    assert_eq!(closed.conversation.close_reason(), Some(CloseReason::Idle));
    assert!(closed.effects.contains(&Effect::SendClosingMessage {
        message: ClosingMessage::parse("Bye from the team").expect("valid")
    }));

    // Handed back, the bot window applies again.
    let back = run(&taken, Command::HandBack, &s, T0 + 20 * MINUTE);
    assert_eq!(
        back.conversation.phase,
        Phase::Bot {
            idle_close_at_ms: T0 + 30 * MINUTE
        }
    );
    assert_eq!(
        back.effects,
        vec![
            Effect::Timeline(TimelineEvent::HandedBack { from: Some(op(3)) }),
            Effect::Unroute,
        ]
    );
}

#[test]
fn handoff_puts_the_chat_in_the_department_line() {
    let s = settings(|s| s.bot_enabled = true);
    let bot = Conversation::start(new_chat(), &s, T0).conversation;
    assert_eq!(
        apply(
            &bot,
            Command::OperatorMessage { operator: op(1) },
            &s,
            None,
            T0
        ),
        Err(LifecycleError::HeldByBot)
    );
    let t = run(&bot, Command::Handoff, &s, T0 + MINUTE);
    assert_eq!(
        t.conversation.phase,
        Phase::Waiting {
            assignee: None,
            pickup_deadline_ms: T0 + 3 * MINUTE
        }
    );
    assert_eq!(
        t.effects,
        vec![
            Effect::Timeline(TimelineEvent::HandedOff),
            Effect::Route {
                department: dept(0)
            }
        ]
    );
    assert_eq!(
        apply(&t.conversation, Command::BotMessage, &s, None, T0 + MINUTE)
            .map_err(|e| e.to_string()),
        Err("the chatbot is no longer handling this chat (it is waiting)".to_owned())
    );
    assert_eq!(
        apply(&t.conversation, Command::Handoff, &s, None, T0 + MINUTE),
        Err(LifecycleError::NotWithBot {
            state: ConversationState::Waiting
        })
    );
}

#[test]
fn hand_back_needs_the_bot() {
    let s = settings(|_| {});
    let open = open_chat(&s);
    assert_eq!(
        apply(&open, Command::HandBack, &s, None, T0).map_err(|e| e.to_string()),
        Err("the chatbot is off on this channel".to_owned())
    );
}

#[test]
fn the_first_accept_wins() {
    let s = settings(|_| {});
    let waiting = Conversation::start(new_chat(), &s, T0).conversation;
    let open = run(
        &waiting,
        Command::Accept { operator: op(1) },
        &s,
        T0 + SECOND,
    )
    .conversation;
    assert_eq!(
        apply(
            &open,
            Command::Accept { operator: op(2) },
            &s,
            None,
            T0 + SECOND
        ),
        Err(LifecycleError::AlreadyTaken { by: op(1) })
    );
    // A double click by the winner is harmless.
    assert!(
        !run(
            &open,
            Command::Accept { operator: op(1) },
            &s,
            T0 + 2 * SECOND
        )
        .changed
    );
    assert_eq!(
        apply(
            &open,
            Command::OperatorMessage { operator: op(2) },
            &s,
            None,
            T0
        )
        .map_err(|e| e.to_string()),
        Err(
            "this chat is assigned to another operator; ask them or a supervisor to transfer it"
                .to_owned()
        )
    );
}

#[test]
fn assignment_offers_without_opening() {
    let s = settings(|_| {});
    let waiting = Conversation::start(new_chat(), &s, T0).conversation;
    let t = run(&waiting, Command::Assign { operator: op(4) }, &s, T0);
    assert_eq!(
        t.conversation.phase,
        Phase::Waiting {
            assignee: Some(op(4)),
            pickup_deadline_ms: T0 + 2 * MINUTE
        }
    );
    // The assignee answering opens it without another routing change.
    let opened = run(
        &t.conversation,
        Command::OperatorMessage { operator: op(4) },
        &s,
        T0 + MINUTE,
    );
    assert_eq!(opened.conversation.state(), ConversationState::Open);
    assert_eq!(
        opened.effects,
        vec![Effect::Timeline(TimelineEvent::Accepted {
            operator: op(4)
        })]
    );
    // Unanswered, it goes missed with its assignee kept.
    let missed = fire(&t.conversation, TimerKind::Pickup, &s, T0 + 2 * MINUTE).conversation;
    assert_eq!(missed.assignee(), Some(op(4)));
}

#[test]
fn transfers() {
    let s = settings(|s| s.idle_close_ms = Some(HOUR));
    let open = open_chat(&s);

    let to_colleague = run(
        &open,
        Command::Transfer {
            to: TransferTarget::Operator(op(2)),
            note: Some("VIP, billing question".into()),
        },
        &s,
        T0 + 10 * MINUTE,
    );
    // Still open, the idle deadline keeps running.
    assert_eq!(
        to_colleague.conversation.phase,
        Phase::Open {
            assignee: op(2),
            idle_close_at_ms: Some(T0 + HOUR)
        }
    );
    assert_eq!(
        to_colleague.effects,
        vec![
            Effect::AssignTo { operator: op(2) },
            Effect::Timeline(TimelineEvent::Transferred {
                from: Some(op(1)),
                to: TransferTarget::Operator(op(2)),
                note: Some("VIP, billing question".into())
            }),
        ]
    );

    assert_eq!(
        apply(
            &open,
            Command::Transfer {
                to: TransferTarget::Operator(op(1)),
                note: None
            },
            &s,
            None,
            T0
        ),
        Err(LifecycleError::AlreadyAssigned { operator: op(1) })
    );

    let to_sales = run(
        &open,
        Command::Transfer {
            to: TransferTarget::Department(dept(1)),
            note: Some("   ".into()),
        },
        &s,
        T0 + 10 * MINUTE,
    );
    assert_eq!(to_sales.conversation.department, dept(1));
    assert_eq!(
        to_sales.conversation.phase,
        Phase::Waiting {
            assignee: None,
            pickup_deadline_ms: T0 + 12 * MINUTE
        }
    );
    assert_eq!(
        to_sales.effects,
        vec![
            Effect::Route {
                department: dept(1)
            },
            Effect::Timeline(TimelineEvent::Transferred {
                from: Some(op(1)),
                to: TransferTarget::Department(dept(1)),
                note: None
            }),
        ]
    );
}

#[test]
fn the_bot_can_route_to_another_department_but_not_to_an_operator() {
    let s = settings(|s| s.bot_enabled = true);
    let bot = Conversation::start(new_chat(), &s, T0).conversation;
    let t = run(
        &bot,
        Command::Transfer {
            to: TransferTarget::Department(dept(2)),
            note: None,
        },
        &s,
        T0,
    );
    assert_eq!(t.conversation.state(), ConversationState::Waiting);
    assert_eq!(t.conversation.department, dept(2));
    assert_eq!(
        apply(
            &bot,
            Command::Transfer {
                to: TransferTarget::Operator(op(1)),
                note: None
            },
            &s,
            None,
            T0
        ),
        Err(LifecycleError::HeldByBot)
    );
}

#[test]
fn closed_is_final() {
    let s = settings(|s| {
        s.bot_enabled = true;
        s.idle_close_ms = Some(MINUTE);
        s.closing_message = closing("bye");
    });
    let open = open_chat(&s);
    let closed = run(
        &open,
        Command::Close { operator: op(1) },
        &s,
        T0 + MINUTE / 2,
    );
    assert_eq!(
        closed.effects,
        vec![
            Effect::Timeline(TimelineEvent::Closed {
                reason: CloseReason::Operator,
                by: Some(op(1))
            }),
            Effect::Unroute
        ]
    );
    let closed = closed.conversation;
    assert_eq!(
        closed.phase,
        Phase::Closed {
            reason: CloseReason::Operator,
            closed_ms: T0 + MINUTE / 2,
            assignee: Some(op(1))
        }
    );
    assert_eq!(closed.next_deadline(), None);

    let refused = [
        Command::OperatorMessage { operator: op(1) },
        Command::BotMessage,
        Command::Accept { operator: op(1) },
        Command::Assign { operator: op(2) },
        Command::Transfer {
            to: TransferTarget::Department(dept(1)),
            note: None,
        },
        Command::Close { operator: op(1) },
        Command::Handoff,
        Command::BotClose,
        Command::TakeOver { operator: op(1) },
        Command::HandBack,
        Command::Blocked,
    ];
    for cmd in refused {
        let err = apply(&closed, cmd, &s, None, T0 + HOUR).expect_err("closed refuses");
        assert_eq!(err.to_string(), "this chat is completed");
    }
    assert_eq!(
        apply(&closed, Command::UserMessage, &s, None, T0 + HOUR),
        Err(LifecycleError::StartNewConversation {
            previous: closed.id
        })
    );
    // The idle timer that was set before the operator closed it fires into a closed chat.
    for &kind in TimerKind::ALL {
        assert!(!fire(&closed, kind, &s, T0 + HOUR).changed);
    }

    // The caller then starts a new chat linked to it.
    let next = Conversation::start(
        NewConversation {
            id: ConversationId(Uuid::from_u128(99)),
            previous: Some(closed.id),
            ..new_chat()
        },
        &s,
        T0 + HOUR,
    );
    assert_eq!(next.conversation.previous, Some(closed.id));
    assert_eq!(next.conversation.state(), ConversationState::Bot);
}

#[test]
fn blocking_closes_without_a_closing_message() {
    let s = settings(|s| {
        s.idle_close_ms = Some(MINUTE);
        s.closing_message = closing("bye");
    });
    let t = run(&open_chat(&s), Command::Blocked, &s, T0 + 1);
    assert_eq!(t.conversation.close_reason(), Some(CloseReason::Blocked));
    assert!(
        !t.effects
            .iter()
            .any(|e| matches!(e, Effect::SendClosingMessage { .. }))
    );
}

/// Mon–Fri 09:00–18:00 in Tokyo (UTC+9, no daylight saving).
fn tokyo_office() -> BusinessHours {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
    ];
    let week = WeeklySchedule::default().on(&days, &[OpenInterval::new(9 * 60, 18 * 60)]);
    BusinessHours::new("Asia/Tokyo", week).expect("valid")
}

/// Unix ms of a Tokyo wall-clock time in March 2026 (UTC+9).
fn tokyo(day: i64, hour: i64, minute: i64) -> Millis {
    // T0 is 2026-03-02 00:00 UTC = 09:00 JST on Monday the 2nd.
    T0 + (day - 2) * DAY + (hour - 9) * HOUR + minute * MINUTE
}

#[test]
fn idle_deadlines_outside_business_hours_are_postponed() {
    let hours = tokyo_office();
    let s = settings(|s| {
        s.idle_close_ms = Some(HOUR);
        s.postpone_outside_business_hours = true;
    });
    // Inside hours: unchanged.
    assert_eq!(
        idle_deadline(&s, Some(&hours), tokyo(4, 10, 0)),
        Some(tokyo(4, 11, 0))
    );
    // Friday 17:30 + 1 h = 18:30, closed → Monday 09:00 + 1 h.
    assert_eq!(
        idle_deadline(&s, Some(&hours), tokyo(6, 17, 30)),
        Some(tokyo(9, 10, 0))
    );
    // Exactly at closing time counts as closed (intervals are [start, end)).
    assert_eq!(
        idle_deadline(&s, Some(&hours), tokyo(4, 17, 0)),
        Some(tokyo(5, 10, 0))
    );
    // No hours, or the option off: unchanged.
    assert_eq!(
        idle_deadline(&s, None, tokyo(6, 17, 30)),
        Some(tokyo(6, 18, 30))
    );
    let off = settings(|s| s.idle_close_ms = Some(HOUR));
    assert_eq!(
        idle_deadline(&off, Some(&hours), tokyo(6, 17, 30)),
        Some(tokyo(6, 18, 30))
    );
    // A window longer than the open day is postponed once, not forever.
    let long = settings(|s| {
        s.idle_close_ms = Some(10 * HOUR);
        s.postpone_outside_business_hours = true;
    });
    assert_eq!(
        idle_deadline(&long, Some(&hours), tokyo(4, 17, 0)),
        Some(tokyo(5, 19, 0))
    );
    // A schedule that never opens postpones nothing.
    let never = BusinessHours::new("Asia/Tokyo", WeeklySchedule::default()).expect("valid");
    assert_eq!(
        idle_deadline(&s, Some(&never), tokyo(4, 17, 0)),
        Some(tokyo(4, 18, 0))
    );

    // Through apply: the user's late-evening message moves the deadline to the next morning.
    let open = open_chat(&s);
    assert_eq!(
        deadline_after_late_message(&open, &s, &hours),
        Some((TimerKind::IdleClose, tokyo(3, 10, 0)))
    );
}

/// The next deadline after the user writes late in the evening (Tokyo, day 2, 23:00).
fn deadline_after_late_message(
    conversation: &Conversation,
    s: &ChannelSettings,
    hours: &BusinessHours,
) -> Option<(TimerKind, Millis)> {
    let t = apply(
        conversation,
        Command::UserMessage,
        s,
        Some(hours),
        tokyo(2, 23, 0),
    )
    .expect("ok");
    t.conversation.next_deadline()
}

#[test]
fn bot_idle_is_never_postponed() {
    let hours = tokyo_office();
    let s = settings(|s| {
        s.bot_enabled = true;
        s.bot_idle_close_ms = HOUR;
        s.idle_close_ms = Some(HOUR);
        s.postpone_outside_business_hours = true;
    });
    let bot = Conversation::start(new_chat(), &s, T0).conversation;
    assert_eq!(
        deadline_after_late_message(&bot, &s, &hours),
        Some((TimerKind::IdleClose, tokyo(3, 0, 0)))
    );
}

#[test]
fn rows_round_trip_and_name_missing_columns() {
    let s = settings(|s| s.idle_close_ms = Some(HOUR));
    let open = open_chat(&s);
    let row = open.to_row();
    assert_eq!(row.state, ConversationState::Open);
    assert_eq!(row.idle_close_at_ms, Some(T0 + HOUR));
    assert_eq!(row.pickup_deadline_ms, None);
    assert_eq!(Conversation::from_row(row), Ok(open.clone()));

    let broken = ConversationRow {
        assignee: None,
        ..row
    };
    assert_eq!(
        Conversation::from_row(broken)
            .expect_err("open needs an assignee")
            .to_string(),
        format!("conversation {} is `open` but has no assignee_id", open.id)
    );
    let waiting = ConversationRow {
        state: ConversationState::Waiting,
        pickup_deadline_ms: None,
        ..row
    };
    assert!(Conversation::from_row(waiting).is_err());
}

// ----- property tests ----------------------------------------------------------------------

fn arb_command() -> impl Strategy<Value = Command> {
    let operator = (1u128..=3).prop_map(op);
    let target = prop_oneof![
        (1u128..=3).prop_map(|n| TransferTarget::Operator(op(n))),
        (0u128..=1).prop_map(|n| TransferTarget::Department(dept(n))),
    ];
    prop_oneof![
        4 => Just(Command::UserMessage),
        3 => operator.clone().prop_map(|operator| Command::OperatorMessage { operator }),
        2 => Just(Command::BotMessage),
        2 => operator.clone().prop_map(|operator| Command::Accept { operator }),
        1 => operator.clone().prop_map(|operator| Command::Assign { operator }),
        1 => (target, prop::option::of("[ a-z]{0,3}"))
            .prop_map(|(to, note)| Command::Transfer { to, note }),
        1 => operator.clone().prop_map(|operator| Command::Close { operator }),
        1 => Just(Command::Handoff),
        1 => Just(Command::BotClose),
        1 => operator.prop_map(|operator| Command::TakeOver { operator }),
        1 => Just(Command::HandBack),
        1 => Just(Command::Blocked),
        5 => prop::sample::select(TimerKind::ALL.to_vec())
            .prop_map(|kind| Command::TimerFired { kind }),
    ]
}

fn arb_settings() -> impl Strategy<Value = ChannelSettings> {
    (
        prop::sample::select(MissedWindow::ALL.to_vec()),
        prop::sample::select(vec![10 * SECOND, 2 * MINUTE, HOUR]),
        prop::option::of(prop::sample::select(vec![MINUTE, 20 * MINUTE, 24 * HOUR])),
        any::<bool>(),
        any::<bool>(),
        prop::sample::select(vec![MINUTE, 3 * HOUR]),
    )
        .prop_map(
            |(missed_window, pickup_ms, idle_close_ms, postpone, bot, bot_idle)| {
                ChannelSettings::new(ChannelSettingsInput {
                    missed_window,
                    pickup_ms,
                    idle_close_ms,
                    closing_message: Some("bye".into()),
                    postpone_outside_business_hours: postpone,
                    bot_enabled: bot,
                    bot_idle_close_ms: bot_idle,
                    bot_closing_message: None,
                })
                .expect("generated settings are valid")
            },
        )
}

/// Checks what must hold of every conversation, whatever happened to it.
fn check_invariants(conv: &Conversation, s: &ChannelSettings) -> Result<(), TestCaseError> {
    let row = conv.to_row();
    prop_assert_eq!(Conversation::from_row(row), Ok(conv.clone()));
    let deadlines = [
        row.pickup_deadline_ms.is_some(),
        row.missed_close_at_ms.is_some(),
        row.idle_close_at_ms.is_some(),
    ];
    match conv.state() {
        ConversationState::Bot => {
            prop_assert_eq!(deadlines, [false, false, true]);
            prop_assert!(row.assignee.is_none());
            let idle = row.idle_close_at_ms.unwrap_or_default();
            prop_assert!(idle >= conv.last_message_ms + s.bot_idle_close_ms());
        }
        ConversationState::Waiting => prop_assert_eq!(deadlines, [true, false, false]),
        ConversationState::Missed => prop_assert_eq!(deadlines, [false, true, false]),
        ConversationState::Open => {
            prop_assert!(row.assignee.is_some(), "an open chat has an assignee");
            prop_assert_eq!(deadlines, [false, false, s.idle_close_ms().is_some()]);
            if let (Some(idle), Some(window)) = (row.idle_close_at_ms, s.idle_close_ms()) {
                prop_assert!(idle >= conv.last_message_ms + window);
            }
        }
        ConversationState::Closed => {
            prop_assert_eq!(deadlines, [false, false, false]);
            prop_assert!(row.close_reason.is_some(), "a closed chat has a reason");
            prop_assert!(row.closed_ms.is_some());
        }
    }
    prop_assert_eq!(
        row.close_reason.is_some(),
        conv.state() == ConversationState::Closed
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_command_sequence_keeps_the_invariants(
        s in arb_settings(),
        with_hours in any::<bool>(),
        steps in prop::collection::vec((0i64..3 * HOUR, arb_command()), 1..60),
    ) {
        let hours = tokyo_office();
        let hours = with_hours.then_some(&hours);
        let mut now = T0;
        let mut conv = Conversation::start(new_chat(), &s, now).conversation;
        check_invariants(&conv, &s)?;
        for (dt, cmd) in steps {
            now += dt;
            let before = conv.clone();
            let was_closed = before.state() == ConversationState::Closed;
            let due = before.due_timer(now);
            let fired = match cmd {
                Command::TimerFired { kind } => Some(kind),
                _ => None,
            };
            match apply(&before, cmd.clone(), &s, hours, now) {
                Ok(t) => {
                    prop_assert!(!was_closed || !t.changed, "closed stays closed");
                    prop_assert_eq!(t.changed, t.conversation != before || !t.effects.is_empty());
                    if let Some(kind) = fired {
                        // A timer changes the chat exactly when its deadline is due now.
                        prop_assert_eq!(t.changed, due == Some(kind), "timer {:?}, due {:?}", kind, due);
                        // And firing it again right away changes nothing.
                        let again = apply(&t.conversation, cmd, &s, hours, now).expect("timers never fail");
                        prop_assert!(!again.changed);
                    }
                    // At most one routing effect per transition, so the router applies it atomically.
                    let routing = t.effects.iter().filter(|e| matches!(e, Effect::Route { .. } | Effect::AssignTo { .. } | Effect::Unroute)).count();
                    prop_assert!(routing <= 1);
                    conv = t.conversation;
                }
                Err(e) => {
                    prop_assert!(fired.is_none(), "timers never fail");
                    if was_closed {
                        let expected = if cmd == Command::UserMessage {
                            LifecycleError::StartNewConversation { previous: before.id }
                        } else {
                            LifecycleError::Completed
                        };
                        prop_assert_eq!(e, expected);
                    }
                }
            }
            if was_closed {
                prop_assert_eq!(&conv, &before);
            }
            check_invariants(&conv, &s)?;
        }
    }
}

#[test]
fn a_handoff_while_closed_waits_for_the_next_opening() {
    let hours = tokyo_office();
    let s = settings(|s| s.bot_enabled = true);
    let bot = Conversation::start(new_chat(), &s, tokyo(6, 20, 0)).conversation;
    // Friday 20:00: the pickup time counts from Monday 09:00.
    let t = apply(&bot, Command::Handoff, &s, Some(&hours), tokyo(6, 20, 0)).expect("handoff");
    assert_eq!(
        t.conversation.next_deadline(),
        Some((TimerKind::Pickup, tokyo(9, 9, 0) + s.pickup_ms()))
    );
    // During business hours it counts from now.
    let t = apply(&bot, Command::Handoff, &s, Some(&hours), tokyo(4, 10, 0)).expect("handoff");
    assert_eq!(
        t.conversation.next_deadline(),
        Some((TimerKind::Pickup, tokyo(4, 10, 0) + s.pickup_ms()))
    );
}

#[test]
fn the_bot_may_close_its_own_chat_without_the_idle_message() {
    let s = settings(|s| {
        s.bot_enabled = true;
        s.bot_closing_message = closing("bye");
    });
    let bot = Conversation::start(new_chat(), &s, T0).conversation;
    let t = run(&bot, Command::BotClose, &s, T0 + MINUTE);
    assert_eq!(t.conversation.close_reason(), Some(CloseReason::BotIdle));
    assert!(
        !t.effects
            .iter()
            .any(|e| matches!(e, Effect::SendClosingMessage { .. }))
    );
    let open = open_chat(&s);
    assert_eq!(
        apply(&open, Command::BotClose, &s, None, T0),
        Err(LifecycleError::NotWithBot {
            state: ConversationState::Open
        })
    );
}
