//! Who gets a chat: operators' presence and capacity, department routing modes, and the
//! line of chats waiting for a free operator, as a pure in-memory model ([`Router`]).
//!
//! Rules:
//! - An operator is **available** when `online` and holding fewer chats than their capacity.
//!   `away` and `offline` operators keep the chats they hold but get no new ones. Capacity may
//!   be lowered below the current load; that takes nothing away, it only stops new
//!   assignments until the load is below it again.
//! - A chat counts against its operator from assignment until it is closed, handed back to
//!   the bot or moved to someone else — also while it is only offered (round robin gave it
//!   to them, they have not answered yet), because that operator is expected to answer it.
//! - **Round robin**: the available member assigned least recently (never-assigned first;
//!   ties by operator id). **Last attender first**: the operator the contact's previous chat
//!   was assigned to, if a member and available, else round robin. **Notify all**: nobody is
//!   assigned; every available member is offered the chat, and the first to accept takes it.
//! - Unassigned chats wait in one line in arrival order (a transfer to a department joins the
//!   back of the line). After every change the line is worked front to back, so capacity
//!   never sits unused while a chat of that department waits, and a chat is never passed
//!   over for a later one of the same department.
//! - An explicit accept or transfer to an operator ignores presence (the operator acts, or a
//!   colleague chose them) but never exceeds their capacity.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::ids::{ContactId, ConversationId, DepartmentId, OperatorId};
use crate::lifecycle::{Conversation, Effect, TransferTarget};
use crate::text_enum;
use crate::time::Millis;

text_enum! {
    /// Whether an operator takes new chats.
    pub enum Presence ("presence") {
        /// At the console, taking new chats.
        Online = "online",
        /// Keeps their chats, takes no new ones.
        Away = "away",
        /// Logged out: keeps their chats, takes no new ones.
        Offline = "offline",
    }
}

text_enum! {
    /// How a department hands out chats.
    pub enum RoutingMode ("routing mode") {
        /// Every available member sees the chat; the first to accept takes it.
        NotifyAll = "notify_all",
        /// The available member assigned least recently gets it.
        RoundRobin = "round_robin",
        /// The operator who last served the contact, if available; else round robin.
        LastAttenderFirst = "last_attender_first",
    }
}

/// What routing did with a chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// The chat now belongs to `operator`.
    Assigned {
        /// The chat.
        chat: ConversationId,
        /// Its operator.
        operator: OperatorId,
    },
    /// Notify-all: show the chat to these operators (those not told before); the first to
    /// accept takes it.
    Offered {
        /// The chat.
        chat: ConversationId,
        /// Who to notify.
        operators: Vec<OperatorId>,
    },
}

/// Why routing refused a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The operator was never added to routing.
    #[error("operator {0} is not set up for routing")]
    UnknownOperator(OperatorId),
    /// The department was never added to routing.
    #[error("department {0} is not set up for routing")]
    UnknownDepartment(DepartmentId),
    /// The chat is not in routing (closed, or with the bot).
    #[error("chat {0} is not waiting for or assigned to an operator")]
    UnknownChat(ConversationId),
    /// The chat is already in routing.
    #[error("chat {0} is already routed")]
    AlreadyRouted(ConversationId),
    /// The operator holds as many chats as they may.
    #[error("that operator is at capacity ({load} of {capacity} chats)")]
    AtCapacity {
        /// The operator.
        operator: OperatorId,
        /// Chats they hold.
        load: u32,
        /// Chats they may hold.
        capacity: u32,
    },
    /// Transfer to the operator who already holds the chat.
    #[error("this chat is already with that operator")]
    AlreadyAssigned {
        /// That operator.
        operator: OperatorId,
    },
}

/// An operator as routing sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorStatus {
    /// Online, away or offline.
    pub presence: Presence,
    /// Most chats they may hold at once.
    pub capacity: u32,
    /// Chats they hold now.
    pub load: u32,
    /// When they were last given a chat.
    pub last_assigned_ms: Option<Millis>,
}

impl OperatorStatus {
    /// Online with room for another chat.
    pub fn is_available(&self) -> bool {
        self.presence == Presence::Online && self.load < self.capacity
    }
}

#[derive(Debug, Clone)]
struct OperatorSlot {
    status: OperatorStatus,
    /// Orders assignments made at the same millisecond, so round robin still rotates.
    last_seq: u64,
}

impl OperatorSlot {
    /// Round-robin order: least recently assigned first, never-assigned before all.
    fn recency(&self) -> Option<(Millis, u64)> {
        self.status.last_assigned_ms.map(|ms| (ms, self.last_seq))
    }
}

#[derive(Debug, Clone)]
struct DepartmentSlot {
    mode: RoutingMode,
    members: BTreeSet<OperatorId>,
}

#[derive(Debug, Clone)]
struct Chat {
    contact: ContactId,
    department: DepartmentId,
    assignee: Option<OperatorId>,
    /// Notify-all: who has been shown the chat since they last became available.
    offered: BTreeSet<OperatorId>,
}

/// Routing state for one brand: operators, departments, routed chats and the waiting line.
#[derive(Debug, Clone, Default)]
pub struct Router {
    operators: BTreeMap<OperatorId, OperatorSlot>,
    departments: BTreeMap<DepartmentId, DepartmentSlot>,
    chats: BTreeMap<ConversationId, Chat>,
    /// Unassigned chats, oldest first.
    queue: VecDeque<ConversationId>,
    last_attender: BTreeMap<ContactId, OperatorId>,
    seq: u64,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    // ----- setup and restore -------------------------------------------------------------

    /// Adds an operator, or updates presence and capacity of a known one (keeping their
    /// chats). `last_assigned_ms` seeds round robin when rebuilding from storage; it is
    /// ignored for a known operator.
    pub fn add_operator(
        &mut self,
        operator: OperatorId,
        presence: Presence,
        capacity: u32,
        last_assigned_ms: Option<Millis>,
        now: Millis,
    ) -> Vec<Routing> {
        let slot = self.operators.entry(operator).or_insert(OperatorSlot {
            status: OperatorStatus {
                presence,
                capacity,
                load: 0,
                last_assigned_ms,
            },
            last_seq: 0,
        });
        slot.status.presence = presence;
        slot.status.capacity = capacity;
        self.settle(now)
    }

    /// Sets (or replaces) a department's mode and members. Chats members already hold stay
    /// with them.
    pub fn set_department(
        &mut self,
        department: DepartmentId,
        mode: RoutingMode,
        members: impl IntoIterator<Item = OperatorId>,
        now: Millis,
    ) -> Result<Vec<Routing>, RoutingError> {
        let members: BTreeSet<OperatorId> = members.into_iter().collect();
        if let Some(unknown) = members.iter().find(|m| !self.operators.contains_key(m)) {
            return Err(RoutingError::UnknownOperator(*unknown));
        }
        self.departments
            .insert(department, DepartmentSlot { mode, members });
        Ok(self.settle(now))
    }

    /// Records who last served a contact (from storage), for last-attender-first routing.
    pub fn remember_attender(&mut self, contact: ContactId, operator: OperatorId) {
        self.last_attender.insert(contact, operator);
    }

    /// Puts back a chat from storage as it was, without routing anything: an assigned chat
    /// counts against its operator even beyond capacity (it is a fact, not a choice); an
    /// unassigned one joins the back of the line. Restore in arrival order, then call
    /// [`Router::settle`].
    pub fn restore(
        &mut self,
        chat: ConversationId,
        contact: ContactId,
        department: DepartmentId,
        assignee: Option<OperatorId>,
    ) -> Result<(), RoutingError> {
        self.check_new_chat(chat, department)?;
        if let Some(operator) = assignee {
            self.operator_mut(operator)?.status.load += 1;
        } else {
            self.queue.push_back(chat);
        }
        self.chats.insert(
            chat,
            Chat {
                contact,
                department,
                assignee,
                offered: BTreeSet::new(),
            },
        );
        Ok(())
    }

    // ----- events ------------------------------------------------------------------------

    /// A chat enters `department`'s line and is routed at once if someone is available.
    pub fn arrive(
        &mut self,
        chat: ConversationId,
        contact: ContactId,
        department: DepartmentId,
        now: Millis,
    ) -> Result<Vec<Routing>, RoutingError> {
        self.restore(chat, contact, department, None)?;
        Ok(self.settle(now))
    }

    /// A chat leaves routing (closed, or back with the bot); its operator's slot frees up.
    /// Unknown chats are ignored, so a repeated close is harmless.
    pub fn close(&mut self, chat: ConversationId, now: Millis) -> Vec<Routing> {
        let Some(removed) = self.chats.remove(&chat) else {
            return Vec::new();
        };
        match removed.assignee {
            Some(operator) => self.release(operator),
            None => self.queue.retain(|c| *c != chat),
        }
        self.settle(now)
    }

    /// An operator goes online, away or offline.
    pub fn set_presence(
        &mut self,
        operator: OperatorId,
        presence: Presence,
        now: Millis,
    ) -> Result<Vec<Routing>, RoutingError> {
        self.operator_mut(operator)?.status.presence = presence;
        Ok(self.settle(now))
    }

    /// An operator's capacity changes.
    pub fn set_capacity(
        &mut self,
        operator: OperatorId,
        capacity: u32,
        now: Millis,
    ) -> Result<Vec<Routing>, RoutingError> {
        self.operator_mut(operator)?.status.capacity = capacity;
        Ok(self.settle(now))
    }

    /// An operator takes a routed chat (accept, answer, or assignment by a supervisor). A
    /// chat they already hold is a no-op; one held by someone else moves to them.
    pub fn accept(
        &mut self,
        operator: OperatorId,
        chat: ConversationId,
        now: Millis,
    ) -> Result<Vec<Routing>, RoutingError> {
        let current = self.chat(chat)?.assignee;
        if current == Some(operator) {
            return Ok(Vec::new());
        }
        self.check_room(operator)?;
        let mut out = vec![self.assign(chat, operator, now)];
        out.extend(self.settle(now));
        Ok(out)
    }

    /// Moves a routed chat to an operator (see [`Router::accept`], but moving it to the
    /// operator who holds it is an error) or to the back of a department's line, unassigned.
    pub fn transfer(
        &mut self,
        chat: ConversationId,
        to: TransferTarget,
        now: Millis,
    ) -> Result<Vec<Routing>, RoutingError> {
        let current = self.chat(chat)?.assignee;
        match to {
            TransferTarget::Operator(operator) => {
                if current == Some(operator) {
                    return Err(RoutingError::AlreadyAssigned { operator });
                }
                self.accept(operator, chat, now)
            }
            TransferTarget::Department(department) => {
                if !self.departments.contains_key(&department) {
                    return Err(RoutingError::UnknownDepartment(department));
                }
                if let Some(operator) = current {
                    self.release(operator);
                }
                self.queue.retain(|c| *c != chat);
                self.queue.push_back(chat);
                if let Some(entry) = self.chats.get_mut(&chat) {
                    entry.department = department;
                    entry.assignee = None;
                    entry.offered.clear();
                }
                Ok(self.settle(now))
            }
        }
    }

    /// Gives an operator a chat routing does not hold yet (taking it over from the bot),
    /// within their capacity.
    pub fn take(
        &mut self,
        operator: OperatorId,
        chat: ConversationId,
        contact: ContactId,
        department: DepartmentId,
        now: Millis,
    ) -> Result<Vec<Routing>, RoutingError> {
        self.check_new_chat(chat, department)?;
        self.check_room(operator)?;
        self.chats.insert(
            chat,
            Chat {
                contact,
                department,
                assignee: None,
                offered: BTreeSet::new(),
            },
        );
        let mut out = vec![self.assign(chat, operator, now)];
        out.extend(self.settle(now));
        Ok(out)
    }

    /// Carries out the routing effects of a lifecycle [`crate::lifecycle::Transition`]
    /// (`conversation` is the conversation after it). A transition has at most one routing
    /// effect, so on `Err` the router is unchanged: refuse the command.
    pub fn follow(
        &mut self,
        conversation: &Conversation,
        effects: &[Effect],
        now: Millis,
    ) -> Result<Vec<Routing>, RoutingError> {
        let chat = conversation.id;
        let mut out = Vec::new();
        for effect in effects {
            let routed = self.chats.contains_key(&chat);
            out.extend(match *effect {
                Effect::Route { department } if routed => {
                    self.transfer(chat, TransferTarget::Department(department), now)?
                }
                Effect::Route { department } => {
                    self.arrive(chat, conversation.contact, department, now)?
                }
                Effect::AssignTo { operator } if routed => self.accept(operator, chat, now)?,
                Effect::AssignTo { operator } => self.take(
                    operator,
                    chat,
                    conversation.contact,
                    conversation.department,
                    now,
                )?,
                Effect::Unroute => self.close(chat, now),
                Effect::SendClosingMessage { .. } | Effect::Timeline(_) => Vec::new(),
            });
        }
        Ok(out)
    }

    /// Works the line front to back: assigns what round robin and last-attender-first
    /// departments can, and shows notify-all chats to members who became available. Every
    /// event calls this; call it yourself after [`Router::restore`].
    pub fn settle(&mut self, now: Millis) -> Vec<Routing> {
        let mut out = Vec::new();
        // Assignments first, front to back. Offers come after, so they go only to those
        // still available once this round's assignments have taken their share.
        let waiting: Vec<ConversationId> = self.queue.iter().copied().collect();
        for chat in &waiting {
            if let Some(operator) = self.choose(*chat) {
                out.push(self.assign(*chat, operator, now));
            }
        }
        for chat in waiting {
            let Some(entry) = self.chats.get(&chat) else {
                continue;
            };
            if entry.assignee.is_some() {
                continue;
            }
            let Some(department) = self.departments.get(&entry.department) else {
                continue;
            };
            if department.mode != RoutingMode::NotifyAll {
                continue;
            }
            let available: BTreeSet<OperatorId> = self.available_members(department).collect();
            if let Some(entry) = self.chats.get_mut(&chat) {
                // Forget offers to those who left, so they are told again on return.
                entry.offered.retain(|op| available.contains(op));
                let fresh: Vec<OperatorId> =
                    available.difference(&entry.offered).copied().collect();
                if !fresh.is_empty() {
                    entry.offered.extend(fresh.iter().copied());
                    out.push(Routing::Offered {
                        chat,
                        operators: fresh,
                    });
                }
            }
        }
        out
    }

    // ----- queries -----------------------------------------------------------------------

    /// Unassigned chats, oldest first.
    pub fn queue(&self) -> impl Iterator<Item = ConversationId> + '_ {
        self.queue.iter().copied()
    }

    /// Who holds a routed chat.
    pub fn assignee(&self, chat: ConversationId) -> Option<OperatorId> {
        self.chats.get(&chat).and_then(|c| c.assignee)
    }

    /// The department a routed chat is in.
    pub fn department_of(&self, chat: ConversationId) -> Option<DepartmentId> {
        self.chats.get(&chat).map(|c| c.department)
    }

    /// An operator's presence, capacity and load.
    pub fn operator(&self, operator: OperatorId) -> Option<OperatorStatus> {
        self.operators.get(&operator).map(|slot| slot.status)
    }

    /// Whether an operator is online with room for another chat.
    pub fn is_available(&self, operator: OperatorId) -> bool {
        self.operators
            .get(&operator)
            .is_some_and(|slot| slot.status.is_available())
    }

    /// A department's mode and members.
    pub fn department(&self, department: DepartmentId) -> Option<(RoutingMode, Vec<OperatorId>)> {
        self.departments
            .get(&department)
            .map(|d| (d.mode, d.members.iter().copied().collect()))
    }

    /// Every routed chat with its assignee, in id order.
    pub fn chats(&self) -> impl Iterator<Item = (ConversationId, Option<OperatorId>)> + '_ {
        self.chats.iter().map(|(id, c)| (*id, c.assignee))
    }

    // ----- internals ---------------------------------------------------------------------

    fn chat(&self, chat: ConversationId) -> Result<&Chat, RoutingError> {
        self.chats.get(&chat).ok_or(RoutingError::UnknownChat(chat))
    }

    fn operator_mut(&mut self, operator: OperatorId) -> Result<&mut OperatorSlot, RoutingError> {
        self.operators
            .get_mut(&operator)
            .ok_or(RoutingError::UnknownOperator(operator))
    }

    fn check_new_chat(
        &self,
        chat: ConversationId,
        department: DepartmentId,
    ) -> Result<(), RoutingError> {
        if self.chats.contains_key(&chat) {
            return Err(RoutingError::AlreadyRouted(chat));
        }
        if !self.departments.contains_key(&department) {
            return Err(RoutingError::UnknownDepartment(department));
        }
        Ok(())
    }

    fn check_room(&self, operator: OperatorId) -> Result<(), RoutingError> {
        let status = self
            .operators
            .get(&operator)
            .ok_or(RoutingError::UnknownOperator(operator))?
            .status;
        if status.load >= status.capacity {
            return Err(RoutingError::AtCapacity {
                operator,
                load: status.load,
                capacity: status.capacity,
            });
        }
        Ok(())
    }

    fn available_members<'a>(
        &'a self,
        department: &'a DepartmentSlot,
    ) -> impl Iterator<Item = OperatorId> + 'a {
        department
            .members
            .iter()
            .copied()
            .filter(|op| self.is_available(*op))
    }

    fn round_robin(&self, department: &DepartmentSlot) -> Option<OperatorId> {
        self.available_members(department).min_by_key(|op| {
            let recency = self.operators.get(op).and_then(OperatorSlot::recency);
            (recency, *op)
        })
    }

    /// The operator routing gives a waiting chat to now, if its department assigns (round
    /// robin, last attender first) and someone is available.
    fn choose(&self, chat: ConversationId) -> Option<OperatorId> {
        let entry = self.chats.get(&chat)?;
        let department = self.departments.get(&entry.department)?;
        let preferred = match department.mode {
            RoutingMode::NotifyAll => return None,
            RoutingMode::RoundRobin => None,
            RoutingMode::LastAttenderFirst => self
                .last_attender
                .get(&entry.contact)
                .copied()
                .filter(|op| department.members.contains(op) && self.is_available(*op)),
        };
        preferred.or_else(|| self.round_robin(department))
    }

    /// Gives `chat` to `operator` (checks already done), freeing its previous holder.
    fn assign(&mut self, chat: ConversationId, operator: OperatorId, now: Millis) -> Routing {
        self.seq += 1;
        let seq = self.seq;
        let previous = self.chats.get_mut(&chat).and_then(|entry| {
            entry.offered.clear();
            self.last_attender.insert(entry.contact, operator);
            entry.assignee.replace(operator)
        });
        match previous {
            Some(previous) => self.release(previous),
            None => self.queue.retain(|c| *c != chat),
        }
        if let Some(slot) = self.operators.get_mut(&operator) {
            slot.status.load += 1;
            slot.status.last_assigned_ms = Some(now);
            slot.last_seq = seq;
        }
        Routing::Assigned { chat, operator }
    }

    fn release(&mut self, operator: OperatorId) {
        if let Some(slot) = self.operators.get_mut(&operator) {
            slot.status.load = slot.status.load.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests;
