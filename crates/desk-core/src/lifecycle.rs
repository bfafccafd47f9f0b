//! The conversation state machine (DESIGN §1 "Auto-close", §3 states): `bot` → `waiting` →
//! (`missed`) → `open` → `closed`, as one pure function, [`apply`].
//!
//! [`apply`] takes the conversation as loaded, a [`Command`], the channel's settings, the
//! department's business hours and `now`, and returns the new conversation plus the
//! [`Effect`]s the caller must carry out (route it, send the closing message, log a timeline
//! event). It never reads a clock: deadlines are data ([`Conversation::next_deadline`]), and
//! the timer worker turns a due deadline into [`Command::TimerFired`].
//!
//! Rules, including those the design leaves open:
//! - **Deadlines per state.** `waiting` has a pickup deadline (`now` + pickup time at
//!   arrival); `missed` has a missed-close deadline; `open` has an idle deadline when idle
//!   close is on; `bot` always has a bot idle deadline; `closed` has none. [`Phase`] holds
//!   exactly the data each state allows, so no other combination can be built.
//! - **Missed.** A waiting chat becomes missed when its pickup deadline passes. The missed
//!   window counts from that deadline (not from when the worker noticed), and user messages
//!   in a missed chat do not extend it. Answering or accepting a missed chat opens it.
//! - **Pick up.** [`Command::Accept`] and an operator's first message both open a waiting
//!   or missed chat for that operator, even if routing had offered it to someone else; an open
//!   chat belongs to its assignee, and another operator's accept or message is refused.
//! - **Idle.** Every user or operator message in an open chat moves its idle deadline to
//!   message time + idle window; accepting, taking over or a transfer to an operator starts
//!   it from `now` (a transfer keeps the running deadline). While the chatbot holds the chat,
//!   the bot idle window applies the same way (user and bot messages reset it) and closes
//!   with `bot_idle` and the bot's own closing message.
//! - **Postponing** (`postpone_outside_business_hours`): when an open chat's idle deadline
//!   falls while the department is closed, it moves to the next opening + the idle window
//!   (once: the moved deadline is not checked again, so a window longer than the open
//!   period still ends). With no business hours, or a schedule that never opens, nothing
//!   moves. Bot chats are never postponed: the bot never goes home. See [`idle_deadline`].
//! - **Completed.** Every command on a closed chat is refused with [`LifecycleError::Completed`],
//!   except that a user message gets [`LifecycleError::StartNewConversation`] (open a new
//!   chat linked to this one with [`Conversation::start`]) and a late timer is a no-op, so
//!   a timer racing an operator's close is harmless.
//! - **Timers are conditional.** [`Command::TimerFired`] changes the chat only if the chat is
//!   in the timer's state and its deadline is at or before `now`; otherwise it returns an
//!   unchanged [`Transition`] (`changed: false`) — the same test as the worker's `UPDATE … WHERE state = 'open'
//!   AND idle_close_at_ms <= now`, so a deadline moved by a message makes the old timer moot.

use serde::{Deserialize, Serialize};

use crate::conversation::{CloseReason, ConversationState};
use crate::hours::BusinessHours;
use crate::ids::{ContactId, ConversationId, DepartmentId, OperatorId};
use crate::settings::{ChannelSettings, ClosingMessage};
use crate::text_enum;
use crate::time::Millis;

/// Where a chat is, with exactly the data that state carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The chatbot holds the chat.
    Bot {
        /// When the chat closes with `bot_idle` unless someone writes.
        idle_close_at_ms: Millis,
    },
    /// In the department's line; no operator has answered yet.
    Waiting {
        /// The operator routing offered it to (round robin), if any; not yet answered.
        assignee: Option<OperatorId>,
        /// When it becomes missed.
        pickup_deadline_ms: Millis,
    },
    /// Nobody answered within the pickup time; still answerable until the window ends.
    Missed {
        /// The operator it was offered to, if any.
        assignee: Option<OperatorId>,
        /// When it closes with `missed_timeout`.
        missed_close_at_ms: Millis,
    },
    /// An operator has picked it up.
    Open {
        /// The operator who holds it.
        assignee: OperatorId,
        /// When it closes with `idle`; `None` when idle close is off.
        idle_close_at_ms: Option<Millis>,
    },
    /// Completed: read-only, final.
    Closed {
        /// Why it closed.
        reason: CloseReason,
        /// When it closed.
        closed_ms: Millis,
        /// The last operator who held it, kept for history and last-attender routing.
        assignee: Option<OperatorId>,
    },
}

impl Phase {
    /// The stored state name.
    pub fn state(&self) -> ConversationState {
        match self {
            Phase::Bot { .. } => ConversationState::Bot,
            Phase::Waiting { .. } => ConversationState::Waiting,
            Phase::Missed { .. } => ConversationState::Missed,
            Phase::Open { .. } => ConversationState::Open,
            Phase::Closed { .. } => ConversationState::Closed,
        }
    }

    /// The operator holding (or offered) the chat.
    pub fn assignee(&self) -> Option<OperatorId> {
        match *self {
            Phase::Bot { .. } => None,
            Phase::Waiting { assignee, .. }
            | Phase::Missed { assignee, .. }
            | Phase::Closed { assignee, .. } => assignee,
            Phase::Open { assignee, .. } => Some(assignee),
        }
    }

    /// Whether the chat is in an operator department's hands (waiting, missed or open), which
    /// is when the router tracks it.
    fn is_routed(&self) -> bool {
        matches!(
            self,
            Phase::Waiting { .. } | Phase::Missed { .. } | Phase::Open { .. }
        )
    }
}

text_enum! {
    /// Which deadline a timer is for.
    pub enum TimerKind ("timer kind") {
        /// `pickup_deadline_ms` of a waiting chat: it becomes missed.
        Pickup = "pickup",
        /// `missed_close_at_ms` of a missed chat: it closes with `missed_timeout`.
        MissedClose = "missed_close",
        /// `idle_close_at_ms` of an open chat (closes with `idle`) or a bot chat (`bot_idle`).
        IdleClose = "idle_close",
    }
}

/// Where a transfer sends a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTarget {
    /// To one operator, who then holds it.
    Operator(OperatorId),
    /// Back into a department's line, unassigned.
    Department(DepartmentId),
}

/// One chat between a contact and a channel's department.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The chat.
    pub id: ConversationId,
    /// Who the chat is with.
    pub contact: ContactId,
    /// The department it is routed to.
    pub department: DepartmentId,
    /// The contact's previous chat, shown as history.
    pub previous: Option<ConversationId>,
    /// When it started.
    pub opened_ms: Millis,
    /// The latest message from anyone (user, operator or bot).
    pub last_message_ms: Millis,
    /// State and the data it carries.
    pub phase: Phase,
}

/// What is known when a user's message starts a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewConversation {
    /// The new chat's id.
    pub id: ConversationId,
    /// Who wrote.
    pub contact: ContactId,
    /// The channel's department.
    pub department: DepartmentId,
    /// The contact's latest closed chat, if any.
    pub previous: Option<ConversationId>,
}

/// Something that happens to a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The LINE user wrote.
    UserMessage,
    /// An operator wrote.
    OperatorMessage {
        /// Who wrote.
        operator: OperatorId,
    },
    /// The chatbot wrote.
    BotMessage,
    /// An operator picks up a waiting or missed chat.
    Accept {
        /// Who picks it up.
        operator: OperatorId,
    },
    /// A supervisor or routing gives the chat to an operator without opening it (a waiting or
    /// missed chat stays so until the operator answers); in an open chat it changes hands.
    Assign {
        /// The new assignee.
        operator: OperatorId,
    },
    /// An operator sends the chat to a colleague or a department.
    Transfer {
        /// Where to.
        to: TransferTarget,
        /// A note for the receiver; blank counts as none.
        note: Option<String>,
    },
    /// An operator closes the chat.
    Close {
        /// Who closed it.
        operator: OperatorId,
    },
    /// The chatbot gives the chat to its department.
    Handoff,
    /// The chatbot ends the chat (an external bot answered `close`): completed with
    /// `bot_idle`, as when its idle time runs out, but without the idle closing message.
    BotClose,
    /// An operator takes a chat from the chatbot.
    TakeOver {
        /// Who takes it.
        operator: OperatorId,
    },
    /// An operator gives the chat (back) to the chatbot.
    HandBack,
    /// The user blocked the account (unfollow): nothing can be sent any more.
    Blocked,
    /// A deadline the timer worker found due; `now` (of [`apply`]) is the time it fired.
    TimerFired {
        /// Which deadline.
        kind: TimerKind,
    },
}

/// A line in a chat's timeline, for the console and the realtime log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineEvent {
    /// The chat started, with the chatbot or in the department's line.
    Started {
        /// Whether the chatbot holds it.
        with_bot: bool,
    },
    /// The chatbot handed the chat to the department.
    HandedOff,
    /// An operator took the chat from the chatbot.
    TakenOver {
        /// Who.
        operator: OperatorId,
    },
    /// The chat went (back) to the chatbot.
    HandedBack {
        /// The operator who held it, if any.
        from: Option<OperatorId>,
    },
    /// An operator picked the chat up (by accepting or by answering).
    Accepted {
        /// Who.
        operator: OperatorId,
    },
    /// The chat was given to an operator.
    Assigned {
        /// Who.
        operator: OperatorId,
    },
    /// The chat was transferred.
    Transferred {
        /// Who held it before.
        from: Option<OperatorId>,
        /// Where it went.
        to: TransferTarget,
        /// The note left for the receiver.
        note: Option<String>,
    },
    /// Nobody picked the chat up in time.
    Missed,
    /// The chat was completed.
    Closed {
        /// Why.
        reason: CloseReason,
        /// The operator who closed it, for `operator` closes.
        by: Option<OperatorId>,
    },
}

/// What the caller must do after a transition, in order.
///
/// Routing effects map to [`crate::routing::Router::follow`], which applies them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The chat (re-)enters `department`'s line, unassigned.
    Route {
        /// The department.
        department: DepartmentId,
    },
    /// The chat now belongs to (or is offered to) `operator`.
    AssignTo {
        /// The operator.
        operator: OperatorId,
    },
    /// The chat leaves routing (closed, or back with the chatbot): free its operator's slot.
    Unroute,
    /// Send this text to the user (the idle closing message), even though the chat is closed.
    SendClosingMessage {
        /// The configured message.
        message: ClosingMessage,
    },
    /// Record this in the chat's timeline.
    Timeline(TimelineEvent),
}

/// The outcome of [`apply`]: the conversation to store and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The conversation after the command (equal to the input when nothing changed).
    pub conversation: Conversation,
    /// What to do, in order.
    pub effects: Vec<Effect>,
    /// False when the command changed nothing (a stale timer, a repeated accept): nothing
    /// to store, nothing to do.
    pub changed: bool,
}

impl Transition {
    fn unchanged(conv: &Conversation) -> Self {
        Self {
            conversation: conv.clone(),
            effects: Vec::new(),
            changed: false,
        }
    }
}

/// Why a command was refused. Messages are shown to operators and support admins as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    /// The chat is closed.
    #[error("this chat is completed")]
    Completed,
    /// The user wrote to a closed chat: start a new one with `previous` = this one.
    #[error("this chat is completed; the user's message starts a new chat linked to it")]
    StartNewConversation {
        /// The closed chat, to link the new one to.
        previous: ConversationId,
    },
    /// Operators cannot write into, accept, assign or transfer a chat the bot holds.
    #[error("the chatbot is handling this chat; take it over first")]
    HeldByBot,
    /// A bot command on a chat the bot no longer holds.
    #[error("the chatbot is no longer handling this chat (it is {state})")]
    NotWithBot {
        /// The chat's state.
        state: ConversationState,
    },
    /// Hand back to a chat the bot already holds.
    #[error("the chatbot is already handling this chat")]
    AlreadyWithBot,
    /// Hand back on a channel without the chatbot.
    #[error("the chatbot is off on this channel")]
    BotDisabled,
    /// Someone else opened the chat first.
    #[error("another operator already took this chat")]
    AlreadyTaken {
        /// Who holds it.
        by: OperatorId,
    },
    /// Writing into a chat another operator holds.
    #[error("this chat is assigned to another operator; ask them or a supervisor to transfer it")]
    NotAssignee {
        /// Who holds it.
        assignee: OperatorId,
    },
    /// Transfer to the operator who already has it.
    #[error("this chat is already with that operator")]
    AlreadyAssigned {
        /// That operator.
        operator: OperatorId,
    },
}

/// The idle deadline of an open chat whose last activity was at `from`, or `None` when idle
/// close is off.
///
/// With `postpone_outside_business_hours` on and `hours` given, a deadline that falls while
/// the department is closed becomes the next opening + the idle window. The rule is applied
/// once: with hours 09:00–18:00 and a 10-hour window, a chat idle from 17:00 (due 03:00)
/// closes at 19:00 the next open day, after closing time, rather than being pushed again and
/// again. If the schedule never opens, the deadline stays where it was.
pub fn idle_deadline(
    settings: &ChannelSettings,
    hours: Option<&BusinessHours>,
    from: Millis,
) -> Option<Millis> {
    let window = settings.idle_close_ms()?;
    let due = from.saturating_add(window);
    if settings.postpone_outside_business_hours()
        && let Some(hours) = hours
        && !hours.is_open(due)
        && let Some(opening) = hours.next_opening(due)
    {
        return Some(opening.saturating_add(window));
    }
    Some(due)
}

fn bot_deadline(settings: &ChannelSettings, from: Millis) -> Millis {
    from.saturating_add(settings.bot_idle_close_ms())
}

impl Conversation {
    /// Starts a chat for a user's first message at `now`: with the chatbot when it is on,
    /// otherwise in the department's line with a pickup deadline.
    pub fn start(new: NewConversation, settings: &ChannelSettings, now: Millis) -> Transition {
        let with_bot = settings.bot_enabled();
        let phase = if with_bot {
            Phase::Bot {
                idle_close_at_ms: bot_deadline(settings, now),
            }
        } else {
            Phase::Waiting {
                assignee: None,
                pickup_deadline_ms: now.saturating_add(settings.pickup_ms()),
            }
        };
        let mut effects = vec![Effect::Timeline(TimelineEvent::Started { with_bot })];
        if !with_bot {
            effects.push(Effect::Route {
                department: new.department,
            });
        }
        Transition {
            conversation: Conversation {
                id: new.id,
                contact: new.contact,
                department: new.department,
                previous: new.previous,
                opened_ms: now,
                last_message_ms: now,
                phase,
            },
            effects,
            changed: true,
        }
    }

    /// The stored state name.
    pub fn state(&self) -> ConversationState {
        self.phase.state()
    }

    /// The operator holding (or offered) the chat.
    pub fn assignee(&self) -> Option<OperatorId> {
        self.phase.assignee()
    }

    /// Why it closed, once closed.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self.phase {
            Phase::Closed { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The one deadline this chat has, if any, and what it is for.
    pub fn next_deadline(&self) -> Option<(TimerKind, Millis)> {
        match self.phase {
            Phase::Waiting {
                pickup_deadline_ms, ..
            } => Some((TimerKind::Pickup, pickup_deadline_ms)),
            Phase::Missed {
                missed_close_at_ms, ..
            } => Some((TimerKind::MissedClose, missed_close_at_ms)),
            Phase::Open {
                idle_close_at_ms, ..
            } => idle_close_at_ms.map(|at| (TimerKind::IdleClose, at)),
            Phase::Bot { idle_close_at_ms } => Some((TimerKind::IdleClose, idle_close_at_ms)),
            Phase::Closed { .. } => None,
        }
    }

    /// The timer that is due at `now`, if any.
    pub fn due_timer(&self, now: Millis) -> Option<TimerKind> {
        self.next_deadline()
            .filter(|&(_, at)| at <= now)
            .map(|(kind, _)| kind)
    }

    /// The flat form the stores keep (one column per field; deadlines not used by the state
    /// are `None`).
    pub fn to_row(&self) -> ConversationRow {
        let mut row = ConversationRow {
            id: self.id,
            contact: self.contact,
            department: self.department,
            previous: self.previous,
            opened_ms: self.opened_ms,
            last_message_ms: self.last_message_ms,
            state: self.state(),
            assignee: self.assignee(),
            close_reason: None,
            closed_ms: None,
            pickup_deadline_ms: None,
            missed_close_at_ms: None,
            idle_close_at_ms: None,
        };
        match self.phase {
            Phase::Bot { idle_close_at_ms } => row.idle_close_at_ms = Some(idle_close_at_ms),
            Phase::Waiting {
                pickup_deadline_ms, ..
            } => row.pickup_deadline_ms = Some(pickup_deadline_ms),
            Phase::Missed {
                missed_close_at_ms, ..
            } => row.missed_close_at_ms = Some(missed_close_at_ms),
            Phase::Open {
                idle_close_at_ms, ..
            } => row.idle_close_at_ms = idle_close_at_ms,
            Phase::Closed {
                reason, closed_ms, ..
            } => {
                row.close_reason = Some(reason);
                row.closed_ms = Some(closed_ms);
            }
        }
        row
    }

    /// Rebuilds a conversation from its stored row. Columns the state does not use are
    /// ignored; a column the state needs that is missing is an error naming it.
    pub fn from_row(row: ConversationRow) -> Result<Self, RowError> {
        let missing = |column: &'static str| RowError {
            id: row.id,
            state: row.state,
            column,
        };
        let phase = match row.state {
            ConversationState::Bot => Phase::Bot {
                idle_close_at_ms: row
                    .idle_close_at_ms
                    .ok_or_else(|| missing("idle_close_at_ms"))?,
            },
            ConversationState::Waiting => Phase::Waiting {
                assignee: row.assignee,
                pickup_deadline_ms: row
                    .pickup_deadline_ms
                    .ok_or_else(|| missing("pickup_deadline_ms"))?,
            },
            ConversationState::Missed => Phase::Missed {
                assignee: row.assignee,
                missed_close_at_ms: row
                    .missed_close_at_ms
                    .ok_or_else(|| missing("missed_close_at_ms"))?,
            },
            ConversationState::Open => Phase::Open {
                assignee: row.assignee.ok_or_else(|| missing("assignee_id"))?,
                idle_close_at_ms: row.idle_close_at_ms,
            },
            ConversationState::Closed => Phase::Closed {
                reason: row.close_reason.ok_or_else(|| missing("close_reason"))?,
                closed_ms: row.closed_ms.ok_or_else(|| missing("closed_ms"))?,
                assignee: row.assignee,
            },
        };
        Ok(Self {
            id: row.id,
            contact: row.contact,
            department: row.department,
            previous: row.previous,
            opened_ms: row.opened_ms,
            last_message_ms: row.last_message_ms,
            phase,
        })
    }
}

/// A conversation as the `conversations` table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationRow {
    /// `id`.
    pub id: ConversationId,
    /// `contact_id`.
    pub contact: ContactId,
    /// `department_id`.
    pub department: DepartmentId,
    /// `previous_id`.
    pub previous: Option<ConversationId>,
    /// `opened_ms`.
    pub opened_ms: Millis,
    /// `last_message_ms`.
    pub last_message_ms: Millis,
    /// `state`.
    pub state: ConversationState,
    /// `assignee_id`.
    pub assignee: Option<OperatorId>,
    /// `close_reason`.
    pub close_reason: Option<CloseReason>,
    /// `closed_ms`.
    pub closed_ms: Option<Millis>,
    /// `pickup_deadline_ms`.
    pub pickup_deadline_ms: Option<Millis>,
    /// `missed_close_at_ms`.
    pub missed_close_at_ms: Option<Millis>,
    /// `idle_close_at_ms`.
    pub idle_close_at_ms: Option<Millis>,
}

/// A stored conversation row that lacks a column its state needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("conversation {id} is `{state}` but has no {column}")]
pub struct RowError {
    /// The conversation.
    pub id: ConversationId,
    /// Its stored state.
    pub state: ConversationState,
    /// The missing column.
    pub column: &'static str,
}

/// Applies `cmd` to `conv` at `now`.
///
/// `hours` are the business hours of the conversation's department (`None`: no hours set,
/// nothing is postponed). On `Err` nothing changed. A stale [`Command::TimerFired`] returns
/// `Ok` with `changed: false`.
pub fn apply(
    conv: &Conversation,
    cmd: Command,
    settings: &ChannelSettings,
    hours: Option<&BusinessHours>,
    now: Millis,
) -> Result<Transition, LifecycleError> {
    if let Phase::Closed { .. } = conv.phase {
        return match cmd {
            Command::UserMessage => Err(LifecycleError::StartNewConversation { previous: conv.id }),
            Command::TimerFired { .. } => Ok(Transition::unchanged(conv)),
            _ => Err(LifecycleError::Completed),
        };
    }
    let mut step = Step {
        conv: conv.clone(),
        effects: Vec::new(),
        settings,
        hours,
        now,
    };
    match cmd {
        Command::UserMessage => step.message(None)?,
        Command::OperatorMessage { operator } => step.message(Some(operator))?,
        Command::BotMessage => step.bot_message()?,
        Command::Accept { operator } => step.accept(operator)?,
        Command::Assign { operator } => step.assign(operator)?,
        Command::Transfer { to, note } => step.transfer(to, note)?,
        Command::Close { operator } => step.close(CloseReason::Operator, Some(operator)),
        Command::Handoff => step.handoff()?,
        Command::BotClose => step.bot_close()?,
        Command::TakeOver { operator } => step.take_over(operator)?,
        Command::HandBack => step.hand_back()?,
        Command::Blocked => step.close(CloseReason::Blocked, None),
        Command::TimerFired { kind } => step.timer(kind),
    }
    let changed = !step.effects.is_empty() || step.conv != *conv;
    Ok(Transition {
        conversation: step.conv,
        effects: step.effects,
        changed,
    })
}

/// One command being applied: the conversation as it becomes, and the effects so far.
struct Step<'a> {
    conv: Conversation,
    effects: Vec<Effect>,
    settings: &'a ChannelSettings,
    hours: Option<&'a BusinessHours>,
    now: Millis,
}

impl Step<'_> {
    fn timeline(&mut self, event: TimelineEvent) {
        self.effects.push(Effect::Timeline(event));
    }

    fn idle_from(&self, from: Millis) -> Option<Millis> {
        idle_deadline(self.settings, self.hours, from)
    }

    /// Opens a waiting or missed chat for `operator`, starting the idle clock at `from`.
    fn open_for(&mut self, operator: OperatorId, from: Millis) {
        let previous = self.conv.phase.assignee();
        self.conv.phase = Phase::Open {
            assignee: operator,
            idle_close_at_ms: self.idle_from(from),
        };
        self.timeline(TimelineEvent::Accepted { operator });
        if previous != Some(operator) {
            self.effects.push(Effect::AssignTo { operator });
        }
    }

    /// A user (`None`) or operator message. A late-processed message never moves the
    /// activity time backwards.
    fn message(&mut self, operator: Option<OperatorId>) -> Result<(), LifecycleError> {
        let at = self.conv.last_message_ms.max(self.now);
        match (self.conv.phase, operator) {
            (Phase::Bot { .. }, None) => {
                self.conv.phase = Phase::Bot {
                    idle_close_at_ms: bot_deadline(self.settings, at),
                };
            }
            (Phase::Bot { .. }, Some(_)) => return Err(LifecycleError::HeldByBot),
            // The user writing again does not move a waiting chat's pickup time or a missed
            // chat's window: both measure how long the department has left the user alone.
            (Phase::Waiting { .. } | Phase::Missed { .. }, None) => {}
            (Phase::Waiting { .. } | Phase::Missed { .. }, Some(operator)) => {
                self.open_for(operator, at);
            }
            (Phase::Open { assignee, .. }, sender) => {
                if let Some(operator) = sender
                    && operator != assignee
                {
                    return Err(LifecycleError::NotAssignee { assignee });
                }
                self.conv.phase = Phase::Open {
                    assignee,
                    idle_close_at_ms: self.idle_from(at),
                };
            }
            (Phase::Closed { .. }, _) => return Err(LifecycleError::Completed),
        }
        self.conv.last_message_ms = at;
        Ok(())
    }

    fn bot_message(&mut self) -> Result<(), LifecycleError> {
        let Phase::Bot { .. } = self.conv.phase else {
            return Err(LifecycleError::NotWithBot {
                state: self.conv.state(),
            });
        };
        let at = self.conv.last_message_ms.max(self.now);
        self.conv.phase = Phase::Bot {
            idle_close_at_ms: bot_deadline(self.settings, at),
        };
        self.conv.last_message_ms = at;
        Ok(())
    }

    fn accept(&mut self, operator: OperatorId) -> Result<(), LifecycleError> {
        match self.conv.phase {
            Phase::Bot { .. } => Err(LifecycleError::HeldByBot),
            Phase::Waiting { .. } | Phase::Missed { .. } => {
                self.open_for(operator, self.now);
                Ok(())
            }
            // A second click on "accept" by the holder changes nothing.
            Phase::Open { assignee, .. } if assignee == operator => Ok(()),
            Phase::Open { assignee, .. } => Err(LifecycleError::AlreadyTaken { by: assignee }),
            Phase::Closed { .. } => Err(LifecycleError::Completed),
        }
    }

    /// The same state, held by (or offered to) `operator` instead.
    fn reassigned(&self, operator: OperatorId) -> Result<Phase, LifecycleError> {
        Ok(match self.conv.phase {
            Phase::Bot { .. } => return Err(LifecycleError::HeldByBot),
            Phase::Waiting {
                pickup_deadline_ms, ..
            } => Phase::Waiting {
                assignee: Some(operator),
                pickup_deadline_ms,
            },
            Phase::Missed {
                missed_close_at_ms, ..
            } => Phase::Missed {
                assignee: Some(operator),
                missed_close_at_ms,
            },
            // The idle deadline keeps running: handing a chat over is not a message.
            Phase::Open {
                idle_close_at_ms, ..
            } => Phase::Open {
                assignee: operator,
                idle_close_at_ms,
            },
            Phase::Closed { .. } => return Err(LifecycleError::Completed),
        })
    }

    fn assign(&mut self, operator: OperatorId) -> Result<(), LifecycleError> {
        let phase = self.reassigned(operator)?;
        if self.conv.phase.assignee() == Some(operator) {
            return Ok(());
        }
        self.conv.phase = phase;
        self.timeline(TimelineEvent::Assigned { operator });
        self.effects.push(Effect::AssignTo { operator });
        Ok(())
    }

    fn transfer(&mut self, to: TransferTarget, note: Option<String>) -> Result<(), LifecycleError> {
        let from = self.conv.phase.assignee();
        match to {
            // To a colleague: the state stays (a waiting chat keeps its pickup time, an open
            // one its idle deadline) and the colleague holds it.
            TransferTarget::Operator(operator) => {
                let phase = self.reassigned(operator)?;
                if from == Some(operator) {
                    return Err(LifecycleError::AlreadyAssigned { operator });
                }
                self.conv.phase = phase;
                self.effects.push(Effect::AssignTo { operator });
            }
            // To a department (also from the bot, e.g. a menu choice): back in a line,
            // unassigned, with a fresh pickup time.
            TransferTarget::Department(department) => {
                self.conv.department = department;
                self.conv.phase = Phase::Waiting {
                    assignee: None,
                    pickup_deadline_ms: self.now.saturating_add(self.settings.pickup_ms()),
                };
                self.effects.push(Effect::Route { department });
            }
        }
        let note = note.filter(|n| !n.trim().is_empty());
        self.timeline(TimelineEvent::Transferred { from, to, note });
        Ok(())
    }

    fn close(&mut self, reason: CloseReason, by: Option<OperatorId>) {
        let was_routed = self.conv.phase.is_routed();
        self.conv.phase = Phase::Closed {
            reason,
            closed_ms: self.now,
            assignee: self.conv.phase.assignee(),
        };
        self.timeline(TimelineEvent::Closed { reason, by });
        if was_routed {
            self.effects.push(Effect::Unroute);
        }
    }

    fn handoff(&mut self) -> Result<(), LifecycleError> {
        let Phase::Bot { .. } = self.conv.phase else {
            return Err(LifecycleError::NotWithBot {
                state: self.conv.state(),
            });
        };
        // Handed off while the department is closed, the chat waits for the next opening:
        // the pickup time counts from then, so it is not missed overnight.
        let from = match self.hours {
            Some(hours) if !hours.is_open(self.now) => {
                hours.next_opening(self.now).unwrap_or(self.now)
            }
            _ => self.now,
        };
        self.conv.phase = Phase::Waiting {
            assignee: None,
            pickup_deadline_ms: from.saturating_add(self.settings.pickup_ms()),
        };
        self.timeline(TimelineEvent::HandedOff);
        self.effects.push(Effect::Route {
            department: self.conv.department,
        });
        Ok(())
    }

    fn bot_close(&mut self) -> Result<(), LifecycleError> {
        let Phase::Bot { .. } = self.conv.phase else {
            return Err(LifecycleError::NotWithBot {
                state: self.conv.state(),
            });
        };
        self.close(CloseReason::BotIdle, None);
        Ok(())
    }

    fn take_over(&mut self, operator: OperatorId) -> Result<(), LifecycleError> {
        let Phase::Bot { .. } = self.conv.phase else {
            return Err(LifecycleError::NotWithBot {
                state: self.conv.state(),
            });
        };
        self.conv.phase = Phase::Open {
            assignee: operator,
            idle_close_at_ms: self.idle_from(self.now),
        };
        self.timeline(TimelineEvent::TakenOver { operator });
        self.effects.push(Effect::AssignTo { operator });
        Ok(())
    }

    fn hand_back(&mut self) -> Result<(), LifecycleError> {
        if let Phase::Bot { .. } = self.conv.phase {
            return Err(LifecycleError::AlreadyWithBot);
        }
        if !self.settings.bot_enabled() {
            return Err(LifecycleError::BotDisabled);
        }
        let from = self.conv.phase.assignee();
        self.conv.phase = Phase::Bot {
            idle_close_at_ms: bot_deadline(self.settings, self.now),
        };
        self.timeline(TimelineEvent::HandedBack { from });
        self.effects.push(Effect::Unroute);
        Ok(())
    }

    /// Fires `kind` only if the chat is still in that timer's state with the deadline due.
    fn timer(&mut self, kind: TimerKind) {
        if self.conv.due_timer(self.now) != Some(kind) {
            return;
        }
        match self.conv.phase {
            Phase::Waiting {
                assignee,
                pickup_deadline_ms,
            } => {
                // The window counts from the deadline, so a late worker does not lengthen it.
                self.conv.phase = Phase::Missed {
                    assignee,
                    missed_close_at_ms: pickup_deadline_ms
                        .saturating_add(self.settings.missed_window().as_millis()),
                };
                self.timeline(TimelineEvent::Missed);
            }
            Phase::Missed { .. } => self.close(CloseReason::MissedTimeout, None),
            Phase::Open { .. } => {
                if let Some(message) = self.settings.closing_message() {
                    self.effects.push(Effect::SendClosingMessage {
                        message: message.clone(),
                    });
                }
                self.close(CloseReason::Idle, None);
            }
            Phase::Bot { .. } => {
                if let Some(message) = self.settings.bot_closing_message() {
                    self.effects.push(Effect::SendClosingMessage {
                        message: message.clone(),
                    });
                }
                self.close(CloseReason::BotIdle, None);
            }
            Phase::Closed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests;
