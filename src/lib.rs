//! ecs-cost-saver: stop and start Amazon ECS services on schedules, restore exactly what they
//! had, and keep their target groups right.
//!
//! Data flows one way: `event` (typed input) -> `intent` (what it asks, pure) -> `observe`
//! (batched AWS reads) -> `plan` (every decision, pure) -> `apply` (AWS writes) -> `report`;
//! `dispatch` wires the stages for each kind of input, `lambda` and `cli` call it.

pub mod action;
pub mod apply;
pub mod aws;
pub mod cli;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod forecast;
pub mod intent;
pub mod lambda;
pub mod metrics;
pub mod observe;
pub mod pace;
pub mod plan;
pub mod pricing;
pub mod report;
pub mod schedule;
pub mod settings;
pub mod state;
pub mod text;
pub mod time;
pub mod warm;

pub use dispatch::{Context, handle};
pub use error::Error;
pub use settings::Settings;
