//! Routing modes, capacity and the waiting line; property tests over random event sequences.

use super::*;
use crate::lifecycle::{Command, NewConversation, apply};
use crate::settings::ChannelSettings;
use proptest::prelude::*;
use uuid::Uuid;

const T0: Millis = 1_772_409_600_000;

fn op(n: u128) -> OperatorId {
    OperatorId(Uuid::from_u128(n))
}

fn dept(n: u128) -> DepartmentId {
    DepartmentId(Uuid::from_u128(0xD000 + n))
}

fn chat(n: u128) -> ConversationId {
    ConversationId(Uuid::from_u128(0xC000 + n))
}

fn contact(n: u128) -> ContactId {
    ContactId(Uuid::from_u128(0xA000 + n))
}

fn assigned(chat: ConversationId, operator: OperatorId) -> Routing {
    Routing::Assigned { chat, operator }
}

/// Operators 1..=n online with `capacity`, all members of department 0 in `mode`.
fn router(mode: RoutingMode, n: u128, capacity: u32) -> Router {
    let mut r = Router::new();
    for i in 1..=n {
        r.add_operator(op(i), Presence::Online, capacity, None, T0);
    }
    r.set_department(dept(0), mode, (1..=n).map(op), T0)
        .expect("members are known");
    r
}

#[test]
fn round_robin_rotates_through_available_members() {
    let mut r = router(RoutingMode::RoundRobin, 3, 2);
    let mut got = Vec::new();
    for i in 0..6 {
        got.extend(r.arrive(chat(i), contact(i), dept(0), T0).expect("routed"));
    }
    // Same millisecond for all: still one each, in id order, then around again.
    assert_eq!(
        got,
        vec![
            assigned(chat(0), op(1)),
            assigned(chat(1), op(2)),
            assigned(chat(2), op(3)),
            assigned(chat(3), op(1)),
            assigned(chat(4), op(2)),
            assigned(chat(5), op(3)),
        ]
    );
    // Everyone full: the next one waits.
    assert_eq!(r.arrive(chat(6), contact(6), dept(0), T0 + 1), Ok(vec![]));
    assert_eq!(r.queue().collect::<Vec<_>>(), vec![chat(6)]);
    // Operator 2 closes a chat: the waiting one goes to them at once.
    assert_eq!(r.close(chat(1), T0 + 2), vec![assigned(chat(6), op(2))]);
    assert_eq!(r.queue().count(), 0);
}

#[test]
fn round_robin_skips_away_offline_and_full_operators() {
    let mut r = router(RoutingMode::RoundRobin, 3, 1);
    r.set_presence(op(1), Presence::Away, T0).expect("known");
    r.set_presence(op(2), Presence::Offline, T0).expect("known");
    assert_eq!(
        r.arrive(chat(0), contact(0), dept(0), T0),
        Ok(vec![assigned(chat(0), op(3))])
    );
    assert_eq!(r.arrive(chat(1), contact(1), dept(0), T0), Ok(vec![]));
    assert_eq!(r.arrive(chat(2), contact(2), dept(0), T0), Ok(vec![]));
    // Coming online drains the line in arrival order, one chat per free slot.
    assert_eq!(
        r.set_presence(op(2), Presence::Online, T0 + 1),
        Ok(vec![assigned(chat(1), op(2))])
    );
    assert_eq!(
        r.set_capacity(op(3), 2, T0 + 2),
        Ok(vec![assigned(chat(2), op(3))])
    );
}

#[test]
fn lowering_capacity_takes_nothing_away() {
    let mut r = router(RoutingMode::RoundRobin, 1, 3);
    for i in 0..3 {
        r.arrive(chat(i), contact(i), dept(0), T0).expect("routed");
    }
    assert_eq!(r.set_capacity(op(1), 1, T0), Ok(vec![]));
    assert_eq!(r.operator(op(1)).map(|s| s.load), Some(3));
    r.arrive(chat(3), contact(3), dept(0), T0).expect("queued");
    // Two closes bring the load to 1, still not below capacity 1: nothing new yet.
    assert_eq!(r.close(chat(0), T0), vec![]);
    assert_eq!(r.close(chat(1), T0), vec![]);
    assert_eq!(r.close(chat(2), T0), vec![assigned(chat(3), op(1))]);
}

#[test]
fn last_attender_first_prefers_the_previous_operator() {
    let mut r = router(RoutingMode::LastAttenderFirst, 3, 2);
    r.remember_attender(contact(9), op(3));
    assert_eq!(
        r.arrive(chat(0), contact(9), dept(0), T0),
        Ok(vec![assigned(chat(0), op(3))])
    );
    // Operator 3 away: falls back to round robin (never-assigned operator 1 first).
    r.set_presence(op(3), Presence::Away, T0).expect("known");
    assert_eq!(
        r.arrive(chat(1), contact(9), dept(0), T0),
        Ok(vec![assigned(chat(1), op(1))])
    );
    // That assignment makes operator 1 the contact's last attender.
    assert_eq!(
        r.arrive(chat(2), contact(9), dept(0), T0),
        Ok(vec![assigned(chat(2), op(1))])
    );
    // Operator 1 now full: round robin among the rest.
    assert_eq!(
        r.arrive(chat(3), contact(9), dept(0), T0),
        Ok(vec![assigned(chat(3), op(2))])
    );
}

#[test]
fn notify_all_offers_and_the_first_accept_takes_it() {
    let mut r = router(RoutingMode::NotifyAll, 3, 1);
    r.set_presence(op(3), Presence::Offline, T0).expect("known");
    assert_eq!(
        r.arrive(chat(0), contact(0), dept(0), T0),
        Ok(vec![Routing::Offered {
            chat: chat(0),
            operators: vec![op(1), op(2)]
        }])
    );
    assert_eq!(r.assignee(chat(0)), None);
    // Operator 3 comes online and is shown the waiting chat too.
    assert_eq!(
        r.set_presence(op(3), Presence::Online, T0),
        Ok(vec![Routing::Offered {
            chat: chat(0),
            operators: vec![op(3)]
        }])
    );
    assert_eq!(
        r.accept(op(2), chat(0), T0),
        Ok(vec![assigned(chat(0), op(2))])
    );
    // Operator 2 is full now; a new chat is offered to the others only.
    assert_eq!(
        r.arrive(chat(1), contact(1), dept(0), T0),
        Ok(vec![Routing::Offered {
            chat: chat(1),
            operators: vec![op(1), op(3)]
        }])
    );
    assert_eq!(
        r.accept(op(2), chat(1), T0),
        Err(RoutingError::AtCapacity {
            operator: op(2),
            load: 1,
            capacity: 1
        })
    );
    assert_eq!(
        r.accept(op(2), chat(1), T0).map_err(|e| e.to_string()),
        Err("that operator is at capacity (1 of 1 chats)".to_owned())
    );
}

#[test]
fn transfers_move_load_and_requeue() {
    let mut r = router(RoutingMode::RoundRobin, 2, 1);
    r.set_department(dept(1), RoutingMode::RoundRobin, [op(2)], T0)
        .expect("known");
    r.arrive(chat(0), contact(0), dept(0), T0).expect("to op 1");
    r.arrive(chat(1), contact(1), dept(0), T0).expect("to op 2");
    r.arrive(chat(2), contact(2), dept(0), T0).expect("queued");
    assert_eq!(
        r.transfer(chat(0), TransferTarget::Operator(op(2)), T0),
        Err(RoutingError::AtCapacity {
            operator: op(2),
            load: 1,
            capacity: 1
        })
    );
    assert_eq!(
        r.transfer(chat(0), TransferTarget::Operator(op(1)), T0),
        Err(RoutingError::AlreadyAssigned { operator: op(1) })
    );
    // Chat 1 to department 1 (whose only member is operator 2, now freed): the freed slot
    // first serves the line in order — chat 2 was waiting before chat 1 rejoined.
    assert_eq!(
        r.transfer(chat(1), TransferTarget::Department(dept(1)), T0 + 1),
        Ok(vec![assigned(chat(2), op(2))])
    );
    assert_eq!(r.queue().collect::<Vec<_>>(), vec![chat(1)]);
    assert_eq!(r.department_of(chat(1)), Some(dept(1)));
    assert_eq!(r.close(chat(2), T0 + 2), vec![assigned(chat(1), op(2))]);
}

#[test]
fn follows_lifecycle_effects() {
    let s = ChannelSettings::default();
    let mut r = router(RoutingMode::NotifyAll, 2, 1);
    let started = Conversation::start(
        NewConversation {
            id: chat(0),
            contact: contact(0),
            department: dept(0),
            previous: None,
        },
        &s,
        T0,
    );
    assert_eq!(
        r.follow(&started.conversation, &started.effects, T0),
        Ok(vec![Routing::Offered {
            chat: chat(0),
            operators: vec![op(1), op(2)]
        }])
    );
    let accepted = apply(
        &started.conversation,
        Command::Accept { operator: op(2) },
        &s,
        None,
        T0,
    )
    .expect("accepted");
    assert_eq!(
        r.follow(&accepted.conversation, &accepted.effects, T0),
        Ok(vec![assigned(chat(0), op(2))])
    );
    let closed = apply(
        &accepted.conversation,
        Command::Close { operator: op(2) },
        &s,
        None,
        T0,
    )
    .expect("closed");
    assert_eq!(
        r.follow(&closed.conversation, &closed.effects, T0),
        Ok(vec![])
    );
    assert_eq!(r.operator(op(2)).map(|s| s.load), Some(0));
    assert_eq!(r.chats().count(), 0);
}

#[test]
fn bad_references_are_refused_clearly() {
    let mut r = router(RoutingMode::RoundRobin, 1, 1);
    assert_eq!(
        r.arrive(chat(0), contact(0), dept(5), T0),
        Err(RoutingError::UnknownDepartment(dept(5)))
    );
    assert_eq!(
        r.set_presence(op(9), Presence::Online, T0),
        Err(RoutingError::UnknownOperator(op(9)))
    );
    r.arrive(chat(0), contact(0), dept(0), T0).expect("routed");
    assert_eq!(
        r.arrive(chat(0), contact(0), dept(0), T0),
        Err(RoutingError::AlreadyRouted(chat(0)))
    );
    assert_eq!(
        r.accept(op(1), chat(7), T0),
        Err(RoutingError::UnknownChat(chat(7)))
    );
    // Closing twice is harmless.
    assert_eq!(r.close(chat(0), T0), vec![]);
    assert_eq!(r.close(chat(0), T0), vec![]);
}

// ----- property tests ----------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    Arrive { department: u128, contact: u128 },
    Close { pick: usize },
    Presence { operator: u128, presence: Presence },
    Capacity { operator: u128, capacity: u32 },
    Accept { operator: u128, pick: usize },
    ToOperator { pick: usize, operator: u128 },
    ToDepartment { pick: usize, department: u128 },
}

const OPERATORS: u128 = 4;
const DEPARTMENTS: u128 = 3;

fn arb_step() -> impl Strategy<Value = Step> {
    let operator = 1..=OPERATORS;
    let department = 0..DEPARTMENTS;
    prop_oneof![
        4 => (department.clone(), 0u128..4)
            .prop_map(|(department, contact)| Step::Arrive { department, contact }),
        3 => any::<usize>().prop_map(|pick| Step::Close { pick }),
        2 => (operator.clone(), prop::sample::select(Presence::ALL.to_vec()))
            .prop_map(|(operator, presence)| Step::Presence { operator, presence }),
        2 => (operator.clone(), 0u32..4)
            .prop_map(|(operator, capacity)| Step::Capacity { operator, capacity }),
        2 => (operator.clone(), any::<usize>())
            .prop_map(|(operator, pick)| Step::Accept { operator, pick }),
        1 => (any::<usize>(), operator)
            .prop_map(|(pick, operator)| Step::ToOperator { pick, operator }),
        1 => (any::<usize>(), department)
            .prop_map(|(pick, department)| Step::ToDepartment { pick, department }),
    ]
}

/// Per department its mode and member numbers; per operator its presence and capacity.
type Setup = (Vec<RoutingMode>, Vec<Vec<u128>>, Vec<(Presence, u32)>);

fn arb_setup() -> impl Strategy<Value = Setup> {
    (
        prop::collection::vec(
            prop::sample::select(RoutingMode::ALL.to_vec()),
            DEPARTMENTS as usize,
        ),
        prop::collection::vec(
            prop::sample::subsequence((1..=OPERATORS).collect::<Vec<_>>(), 0..=OPERATORS as usize),
            DEPARTMENTS as usize,
        ),
        prop::collection::vec(
            (prop::sample::select(Presence::ALL.to_vec()), 0u32..3),
            OPERATORS as usize,
        ),
    )
}

/// What the test can see of the router between steps.
#[derive(Debug, Clone)]
struct Snapshot {
    queue: Vec<ConversationId>,
    assignee: BTreeMap<ConversationId, Option<OperatorId>>,
    status: BTreeMap<OperatorId, OperatorStatus>,
}

fn snapshot(r: &Router) -> Snapshot {
    Snapshot {
        queue: r.queue().collect(),
        assignee: r.chats().collect(),
        status: (1..=OPERATORS)
            .filter_map(|n| r.operator(op(n)).map(|s| (op(n), s)))
            .collect(),
    }
}

fn pick(chats: &[ConversationId], i: usize) -> Option<ConversationId> {
    (!chats.is_empty()).then(|| chats[i % chats.len()])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_event_sequence_keeps_routing_fair_and_within_capacity(
        (modes, members, operators) in arb_setup(),
        steps in prop::collection::vec(arb_step(), 1..80),
    ) {
        let mut r = Router::new();
        let mut now = T0;
        for (i, (presence, capacity)) in operators.iter().enumerate() {
            r.add_operator(op(i as u128 + 1), *presence, *capacity, None, now);
        }
        for (d, (mode, members)) in modes.iter().zip(&members).enumerate() {
            r.set_department(dept(d as u128), *mode, members.iter().map(|m| op(*m)), now)
                .expect("members are known");
        }
        let mode_of = |d: DepartmentId| modes[(d.0.as_u128() - 0xD000) as usize];
        let mut next_chat = 0u128;

        for step in steps {
            now += 1_000;
            let before = snapshot(&r);
            let live: Vec<ConversationId> = before.assignee.keys().copied().collect();
            // The first result of accept / transfer-to-operator is the explicit move, which
            // may go to an operator who is away; everything after it is routing's own choice.
            let (result, explicit) = match step {
                Step::Arrive { department, contact: c } => {
                    next_chat += 1;
                    (r.arrive(chat(next_chat), contact(c), dept(department), now), 0)
                }
                Step::Close { pick: i } => match pick(&live, i) {
                    Some(c) => (Ok(r.close(c, now)), 0),
                    None => continue,
                },
                Step::Presence { operator, presence } => {
                    (r.set_presence(op(operator), presence, now), 0)
                }
                Step::Capacity { operator, capacity } => {
                    (r.set_capacity(op(operator), capacity, now), 0)
                }
                Step::Accept { operator, pick: i } => match pick(&live, i) {
                    Some(c) => (r.accept(op(operator), c, now), 1),
                    None => continue,
                },
                Step::ToOperator { pick: i, operator } => match pick(&live, i) {
                    Some(c) => (r.transfer(c, TransferTarget::Operator(op(operator)), now), 1),
                    None => continue,
                },
                Step::ToDepartment { pick: i, department } => match pick(&live, i) {
                    Some(c) => (r.transfer(c, TransferTarget::Department(dept(department)), now), 0),
                    None => continue,
                },
            };
            let after = snapshot(&r);
            let Ok(out) = result else {
                // A refused request changes nothing.
                prop_assert_eq!(&after.queue, &before.queue);
                prop_assert_eq!(&after.assignee, &before.assignee);
                continue;
            };

            // Loads match the chats actually held.
            for (operator, status) in &after.status {
                let held = after.assignee.values().filter(|a| **a == Some(*operator)).count();
                prop_assert_eq!(status.load as usize, held, "load of {}", operator);
                // Never over capacity, unless capacity was lowered under an existing load
                // (then the load must not have grown).
                let load_before = before.status.get(operator).map_or(0, |s| s.load);
                prop_assert!(
                    status.load <= status.capacity || status.load <= load_before,
                    "{} holds {} of {} (had {})", operator, status.load, status.capacity, load_before
                );
            }

            // The queue holds exactly the unassigned chats, once each.
            let unassigned: BTreeSet<ConversationId> = after
                .assignee
                .iter()
                .filter(|(_, a)| a.is_none())
                .map(|(c, _)| *c)
                .collect();
            let queued: BTreeSet<ConversationId> = after.queue.iter().copied().collect();
            prop_assert_eq!(queued.len(), after.queue.len(), "no chat queued twice");
            prop_assert_eq!(&queued, &unassigned);

            let mut seen = BTreeSet::new();
            for (i, routing) in out.iter().enumerate() {
                match routing {
                    Routing::Assigned { chat: c, operator } => {
                        prop_assert!(seen.insert(*c), "{} assigned twice in one step", c);
                        prop_assert_eq!(after.assignee.get(c), Some(&Some(*operator)));
                        if i >= explicit {
                            // Routing's own choice: a chat from the line, to an online
                            // operator who had room.
                            let status = after.status[operator];
                            prop_assert_eq!(status.presence, Presence::Online);
                            prop_assert!(status.load <= status.capacity);
                            let department = r.department_of(*c).expect("routed");
                            prop_assert!(mode_of(department) != RoutingMode::NotifyAll);
                            let members = r.department(department).map(|d| d.1).unwrap_or_default();
                            prop_assert!(members.contains(operator));
                            // FIFO: no chat of the same department that was ahead of it
                            // in the line is still waiting.
                            if let Some(pos) = before.queue.iter().position(|q| q == c) {
                                for earlier in &before.queue[..pos] {
                                    prop_assert!(
                                        !(r.department_of(*earlier) == Some(department)
                                            && after.queue.contains(earlier)),
                                        "{} was assigned while the earlier {} still waits", c, earlier
                                    );
                                }
                            }
                        }
                    }
                    Routing::Offered { chat: c, operators } => {
                        let department = r.department_of(*c).expect("routed");
                        prop_assert_eq!(mode_of(department), RoutingMode::NotifyAll);
                        prop_assert_eq!(after.assignee.get(c), Some(&None));
                        let members = r.department(department).map(|d| d.1).unwrap_or_default();
                        for o in operators {
                            prop_assert!(members.contains(o) && r.is_available(*o));
                        }
                    }
                }
            }

            // Work conservation: no available member sits idle while a chat of their
            // round-robin or last-attender department waits.
            for waiting in &after.queue {
                let department = r.department_of(*waiting).expect("routed");
                if mode_of(department) == RoutingMode::NotifyAll {
                    continue;
                }
                let members = r.department(department).map(|d| d.1).unwrap_or_default();
                for m in members {
                    prop_assert!(
                        !r.is_available(m),
                        "{} waits while member {} is available", waiting, m
                    );
                }
            }
        }
    }
}
