//! What a payload asks for (README, "Payloads").

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Save a snapshot, then scale the environment's services to zero.
    Stop,
    /// Restore the snapshot, then register running tasks in their target groups.
    Start,
    /// Only make sure running tasks are registered in their target groups.
    Register,
    /// Report the current state; change nothing.
    Status,
    /// Bring the environment to the state its crons say it should be in now.
    Reconcile,
}

impl Action {
    pub const NAMES: &[&str] = &["stop", "start", "register", "status", "reconcile"];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Stop => "stop",
            Action::Start => "start",
            Action::Register => "register",
            Action::Status => "status",
            Action::Reconcile => "reconcile",
        }
    }
}
