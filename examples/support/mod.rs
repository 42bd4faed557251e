//! What the benchmarks share: the tests' moto setup (`tests/support`: moto server from `.venv`
//! on 127.0.0.1, the seed script, and the AWS-like world in front of it), and a plain proxy in
//! front of moto that delays every request (a stand-in for the round trip to AWS) and records
//! when each one arrived and was answered, and which operation it was.

#![allow(dead_code)] // each benchmark uses its own part of this module

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// moto, its seed script and readers of what it holds: the emulator setup of the tests.
#[path = "../../tests/support/mod.rs"]
mod emulator;

#[allow(unused_imports)] // as above: each benchmark uses its own part
pub use emulator::world::{self, Options, Request, World};
#[allow(unused_imports)]
pub use emulator::{MUTATING, Moto, capacity, repo, service, venv};

/// The release binary, which the benchmark scripts build first.
pub fn release_binary() -> PathBuf {
    // Another build to compare with (e.g. a copy of an earlier version's).
    if let Some(bin) = std::env::var_os("ECS_COST_SAVER_BENCH_BIN") {
        return PathBuf::from(bin);
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"));
    let bin = target_dir.join("release/ecs-cost-saver");
    assert!(bin.exists(), "build it first: cargo build --release --bin ecs-cost-saver ({})", bin.display());
    bin
}

/// A proxy to moto that delays every request by a fixed time and logs it: the AWS-like world
/// of `tests/support/world.rs` with no buckets and no ECS scheduler.
pub struct Proxy {
    pub port: u16,
    world: World,
}

impl Proxy {
    pub fn start(upstream: u16, delay: Duration) -> Proxy {
        let world = World::start(upstream, Options::plain(delay));
        Proxy { port: world.port, world }
    }

    pub fn endpoint(&self) -> String {
        self.world.endpoint()
    }

    /// The requests logged since the last take, by arrival.
    pub fn take(&self) -> Vec<Request> {
        self.world.take()
    }
}

/// The environment of an `ecs-cost-saver` process talking to `endpoint` with test credentials
/// and nothing from the user's AWS configuration.
pub fn aws_env(command: &mut Command, endpoint: &str) {
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("RUST_LOG", "warn")
        .env_remove("AWS_PROFILE");
}

/// An error of the naive loop's calls.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The naive loop's first calls for one service: look for its scalable target, set its min/max
/// when it has one, then its desiredCount. Both benchmarks' naive loops start with these.
pub async fn naive_set(
    scaling: &aws_sdk_applicationautoscaling::Client,
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    name: &str,
    capacity: Option<(i32, i32)>,
    desired: i32,
) -> Result<(), Failure> {
    use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
    let rid = format!("service/{cluster}/{name}");
    let found = scaling
        .describe_scalable_targets()
        .service_namespace(ServiceNamespace::Ecs)
        .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
        .resource_ids(&rid)
        .send()
        .await?;
    if let (false, Some((min, max))) = (found.scalable_targets().is_empty(), capacity) {
        scaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(&rid)
            .min_capacity(min)
            .max_capacity(max)
            .send()
            .await?;
    }
    ecs.update_service().cluster(cluster).service(name).desired_count(desired).send().await?;
    Ok(())
}
