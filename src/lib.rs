//! ecs-cost-saver: stop and start Amazon ECS services on schedules, restore exactly what they
//! had, and keep their target groups right.
//!
//! Data flows one way: `event` (typed input) -> `dispatch` (intent) -> `observe` (batched AWS
//! reads) -> `plan` (pure decisions) -> `apply` (AWS writes) -> `report`.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod dispatch;
pub mod error;
pub mod event;
pub mod holidays;
pub mod observe;
pub mod outlook;
pub mod plan;
pub mod report;
pub mod schedule;
pub mod spot;
pub mod state;
pub mod text;
pub mod timeline;

pub use dispatch::{Settings, handle};
pub use error::Error;
