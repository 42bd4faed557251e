//! What a warm Lambda container remembers between invocations: each service's target groups (so a
//! Spot interruption can be acted on before the service is described) and the Spot events already
//! handled. The runtime loop owns one and lends it to every invocation; a test starts cold with
//! `Warm::default()` or warm by lending the same one again. Plain memory: what to trust of it is
//! the planner's decision (`plan::spot`).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use crate::schedule::ServiceRef;
use crate::state::TargetBinding;

/// How many services' target groups and handled events are kept (oldest forgotten first).
const SERVICES: usize = 512;
const EVENTS: usize = 1024;

#[derive(Debug, Default)]
pub struct Warm {
    memory: Mutex<Memory>,
}

#[derive(Debug, Default)]
struct Memory {
    bindings: HashMap<ServiceRef, Remembered>,
    order: VecDeque<ServiceRef>,
    handled: VecDeque<(String, u64)>,
}

/// A service's target groups as described at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub at: Instant,
    pub bindings: Vec<TargetBinding>,
}

impl Warm {
    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic elsewhere cannot leave the memory half-written: every change is one insert.
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn bindings(&self, id: &ServiceRef) -> Option<Remembered> {
        self.memory().bindings.get(id).cloned()
    }

    pub fn remember_bindings(&self, id: &ServiceRef, bindings: &[TargetBinding], at: Instant) {
        let mut memory = self.memory();
        let new = memory.bindings.insert(id.clone(), Remembered { at, bindings: bindings.to_vec() }).is_none();
        if new {
            memory.order.push_back(id.clone());
            while memory.order.len() > SERVICES {
                if let Some(old) = memory.order.pop_front() {
                    memory.bindings.remove(&old);
                }
            }
        }
    }

    /// Whether this delivery of a task's state change (ARN and `detail.version`) was handled.
    pub fn handled(&self, task_arn: &str, version: u64) -> bool {
        self.memory().handled.iter().any(|(arn, v)| arn == task_arn && *v == version)
    }

    pub fn mark_handled(&self, task_arn: &str, version: u64) {
        let mut memory = self.memory();
        memory.handled.push_back((task_arn.to_string(), version));
        while memory.handled.len() > EVENTS {
            memory.handled.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_forgets_the_oldest_first() {
        let warm = Warm::default();
        let at = Instant::now();
        for i in 0..=SERVICES {
            warm.remember_bindings(&ServiceRef::new("c", format!("s{i}")), &[], at);
        }
        assert!(warm.bindings(&ServiceRef::new("c", "s0")).is_none());
        assert!(warm.bindings(&ServiceRef::new("c", format!("s{SERVICES}"))).is_some());
        for v in 0..=EVENTS as u64 {
            warm.mark_handled("t", v);
        }
        assert!(!warm.handled("t", 0) && warm.handled("t", EVENTS as u64));
    }
}
