//! Many accounts and regions from one deployment, end to end against moto, which gives an assumed
//! role's credentials the role's account (and keeps each region apart). The function's calls go
//! through the recording world of tests/support/world.rs, which also refuses the AssumeRole of
//! one role as a trust policy that does not name the function would. The same cluster and
//! service names live in three places: each run must touch exactly its own.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ecs::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_ecs::types::ContainerDefinition;
use ecs_cost_saver::aws::spokes::Spokes;
use ecs_cost_saver::aws::{Places, Sdk};
use ecs_cost_saver::error::ErrorKind;
use ecs_cost_saver::report::{Outcome, Report, TargetChange};
use ecs_cost_saver::schedule::Schedule;
use ecs_cost_saver::{Context, Settings, handle};
use serde_json::{Value, json};
use support::world::{Options, World};
use support::{Moto, REGION, e2e_settings, frictionless, spot_interruption};

const HUB: &str = "123456789012";
const STG: &str = "222222222222";
const STG_ROLE: &str = "arn:aws:iam::222222222222:role/ecs-cost-saver-target";
const LOCKED_ROLE: &str = "arn:aws:iam::333333333333:role/ecs-cost-saver-target";
const OSAKA: &str = "ap-northeast-3";

fn schedule() -> Schedule {
    let yaml = format!(
        "accounts:
  stg: {{ role_arn: '{STG_ROLE}', external_id: ext-stg }}
  locked: {{ role_arn: '{LOCKED_ROLE}' }}
environments:
  staging:
    account: stg
    services:
      - {{ cluster: shop, service: api }}
      - {{ cluster: shop, service: api, region: {OSAKA} }}
  dev:
    services:
      - {{ cluster: shop, service: api }}
      - {{ cluster: shop, service: api, region: {OSAKA} }}
      - {{ cluster: shop, service: api, account: locked }}
  spot-stg:
    account: stg
    services:
      - {{ cluster: spot, service: web }}
"
    );
    Schedule::parse(&yaml, "accounts.yaml").unwrap_or_else(|e| panic!("{e}"))
}

/// The configuration of the test's own looks at `region` of the role's account (the hub's
/// without one), straight to moto.
async fn config(endpoint: &str, role: Option<&str>, region: &str) -> SdkConfig {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .load()
        .await;
    match role {
        None => base,
        Some(role) => {
            let assumed =
                aws_config::sts::AssumeRoleProvider::builder(role).configure(&base).session_name("test").build().await;
            base.into_builder().credentials_provider(SharedCredentialsProvider::new(assumed)).build()
        }
    }
}

async fn ecs(moto: &Moto, role: Option<&str>, region: &str) -> aws_sdk_ecs::Client {
    aws_sdk_ecs::Client::new(&config(&moto.endpoint, role, region).await)
}

/// Cluster `shop` with service `api` of `desired` tasks.
async fn seed_api(ecs: &aws_sdk_ecs::Client, desired: i32) {
    ecs.create_cluster().cluster_name("shop").send().await.unwrap();
    let app = ContainerDefinition::builder().name("app").image("nginx").memory(512).build();
    ecs.register_task_definition().family("api").container_definitions(app).send().await.unwrap();
    ecs.create_service()
        .cluster("shop")
        .service_name("api")
        .task_definition("api:1")
        .desired_count(desired)
        .send()
        .await
        .unwrap();
}

async fn desired(ecs: &aws_sdk_ecs::Client) -> i32 {
    let out = ecs.describe_services().cluster("shop").services("api").send().await.unwrap();
    out.services()[0].desired_count()
}

/// The function's clients (through the world), able to reach the file's other places.
async fn hub(world: &World) -> Sdk {
    Sdk::with_spokes(&config(&world.endpoint(), None, REGION).await, &frictionless())
}

fn settings() -> Settings {
    Settings { account: Some(HUB.into()), ..e2e_settings() }
}

async fn run(ctx: &Context<'_, Sdk>, payload: Value) -> Report {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    handle(ctx, payload, chrono::Utc::now(), deadline).await.unwrap()
}

fn named(report: &Report) -> Vec<(String, Outcome)> {
    report.services.iter().map(|s| (s.id().to_string(), s.outcome)).collect()
}

fn assume_roles(world: &World) -> usize {
    world.take().iter().filter(|r| r.operation == "AssumeRole").count()
}

#[tokio::test]
async fn each_place_is_stopped_and_started_with_its_own_clients_and_a_role_is_assumed_once() {
    let moto = Moto::start();
    let world = World::start(moto.port, Options::plain(Duration::ZERO).refuse_role(LOCKED_ROLE));
    let (own, stg_tokyo, stg_osaka) = (
        ecs(&moto, None, REGION).await,
        ecs(&moto, Some(STG_ROLE), REGION).await,
        ecs(&moto, Some(STG_ROLE), OSAKA).await,
    );
    let own_osaka = ecs(&moto, None, OSAKA).await;
    seed_api(&own, 1).await;
    seed_api(&own_osaka, 4).await;
    seed_api(&stg_tokyo, 2).await;
    seed_api(&stg_osaka, 3).await;
    let sdk = hub(&world).await;
    let (schedule, settings) = (schedule(), settings());
    // One warm container: every invocation below lends it the same context.
    let ctx = Context::new(&sdk, &schedule, &settings);
    world.take();

    let report = run(&ctx, json!({"action": "stop", "environment": "staging"})).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(
        named(&report),
        [(format!("{STG}/shop/api"), Outcome::Changed), (format!("{STG}/{OSAKA}/shop/api"), Outcome::Changed)]
    );
    assert_eq!((desired(&stg_tokyo).await, desired(&stg_osaka).await), (0, 0));
    assert_eq!((desired(&own).await, desired(&own_osaka).await), (1, 4), "the function's own are other services");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!((&json["services"][0]["account"], &json["services"][0].get("region")), (&json!(STG), &None));
    assert_eq!((&json["services"][1]["account"], &json["services"][1]["region"]), (&json!(STG), &json!(OSAKA)));
    assert_eq!(assume_roles(&world), 1, "one AssumeRole for both regions of the account");

    let report = run(&ctx, json!({"action": "start", "environment": "staging"})).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!((desired(&stg_tokyo).await, desired(&stg_osaka).await), (2, 3), "each restored from its own snapshot");
    assert_eq!(assume_roles(&world), 0, "the warm container kept the role's credentials");
    let keys = sdk.spokes.as_ref().unwrap().keys();
    assert_eq!(keys, [(Some(STG_ROLE.into()), REGION.into()), (Some(STG_ROLE.into()), OSAKA.into())]);

    // A role that cannot be assumed fails its services, naming the role; the others (the
    // function's own account, in its region and in Osaka with its own credentials) go on.
    let report = run(&ctx, json!({"action": "stop", "environment": "dev"})).await;
    assert_eq!(
        named(&report),
        [
            ("shop/api".into(), Outcome::Changed),
            (format!("{OSAKA}/shop/api"), Outcome::Changed),
            ("333333333333/shop/api".into(), Outcome::Failed)
        ]
    );
    let locked = &report.services[2];
    assert_eq!(locked.error_kind, Some(ErrorKind::AccessDenied));
    let error = locked.error.as_deref().unwrap();
    assert!(error.contains(LOCKED_ROLE) && error.contains("AccessDenied"), "{error}");
    assert!(error.contains("session ecs-cost-saver-dev"), "{error}");
    assert_eq!((desired(&own).await, desired(&own_osaka).await), (0, 0));
    assert_eq!((desired(&stg_tokyo).await, desired(&stg_osaka).await), (2, 3), "another environment's services");
    let failed = report.error().unwrap().to_string();
    assert!(failed.starts_with("stop dev: 1 of 3 failed: 333333333333/shop/api [access_denied]"), "{failed}");
    assert_eq!(assume_roles(&world), 1, "refused once, not retried");
    // Refused, it is tried again the next time (nothing of it is kept).
    let report = run(&ctx, json!({"action": "start", "environment": "dev"})).await;
    assert_eq!(report.services[2].error_kind, Some(ErrorKind::AccessDenied));
    assert_eq!((desired(&own).await, desired(&own_osaka).await), (1, 4), "restored in both regions");
    assert_eq!(assume_roles(&world), 1);
    let keys = sdk.spokes.as_ref().unwrap().keys();
    assert_eq!(keys[0], (None, OSAKA.into()), "the function's own credentials in Osaka: {keys:?}");
}

async fn targets(elb: &aws_sdk_elasticloadbalancingv2::Client, tg: &str) -> BTreeSet<String> {
    let out = elb.describe_target_health().target_group_arn(tg).send().await.unwrap();
    out.target_health_descriptions().iter().filter_map(|d| d.target()?.id().map(str::to_string)).collect()
}

#[tokio::test]
async fn a_spot_interruption_from_a_target_account_is_handled_there_and_one_from_elsewhere_is_skipped() {
    let moto = Moto::start();
    let world = World::start(moto.port, Options::plain(Duration::ZERO));
    let seeded = moto.seed(&["--role-arn", STG_ROLE, "spot"]);
    let tg = seeded["target_groups"]["web-alb-tg"].as_str().unwrap().to_string();
    assert!(tg.contains(STG), "seeded in the target account: {tg}");
    let task = |i: usize| {
        let t = &seeded["web_tasks"][i];
        (t["arn"].as_str().unwrap().to_string(), t["ip"].as_str().unwrap().to_string())
    };
    let ((arn, ip), (_, sibling)) = (task(0), task(1));
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&config(&moto.endpoint, Some(STG_ROLE), REGION).await);
    assert_eq!(targets(&elb, &tg).await, BTreeSet::from([ip.clone(), sibling.clone()]));
    let sdk = hub(&world).await;
    let (schedule, settings) = (schedule(), settings());
    let ctx = Context::new(&sdk, &schedule, &settings);
    world.take();

    let report = run(&ctx, spot_interruption(STG, REGION, &arn, &ip)).await;
    assert!(report.error().is_none(), "{report}");
    assert_eq!(report.environment, "spot-stg");
    let gone: Vec<(&str, &str, TargetChange)> =
        report.targets.iter().map(|t| (t.target_group.as_str(), t.target.id.as_str(), t.change)).collect();
    assert!(gone.contains(&(tg.as_str(), ip.as_str(), TargetChange::Deregistered)), "{gone:?}");
    assert_eq!(targets(&elb, &tg).await, BTreeSet::from([sibling.clone()]), "deregistered in the target account");
    assert_eq!(report.services[0].id().to_string(), format!("{STG}/spot/web"));
    assert_eq!(assume_roles(&world), 1);

    // From an account, or a region of a known account, where the file has no services: skipped
    // with no call at all.
    for (account, region) in [("444444444444", REGION), (STG, "eu-west-1")] {
        let report = run(&ctx, spot_interruption(account, region, &arn, &ip)).await;
        let reason = report.skipped_reason.as_deref().unwrap_or_default();
        assert!(reason.contains(&format!("account {account} in {region}")), "{report}");
        assert!(world.take().is_empty(), "no call for an event from {account} {region}");
    }
}

#[tokio::test]
async fn a_roles_credentials_are_assumed_again_before_they_expire_and_the_clients_are_kept() {
    let moto = Moto::start();
    let world = World::start(moto.port, Options::plain(Duration::ZERO));
    seed_api(&ecs(&moto, Some(STG_ROLE), REGION).await, 1).await;
    let config = config(&world.endpoint(), None, REGION).await;
    let mut sdk = Sdk::paced(&config, &frictionless());
    // A session of 8 s, taken as expired 4 s (less a jitter of up to 2 s) before its end.
    let spokes =
        Spokes::new(&config, &frictionless(), &sdk).with_session(Duration::from_secs(8), Duration::from_secs(4));
    sdk.spokes = Some(std::sync::Arc::new(spokes));
    let schedule = schedule();
    let (stg, place) =
        (schedule.account(STG).unwrap(), ecs_cost_saver::schedule::Place { account: Some(STG.into()), region: None });
    let began = std::time::Instant::now();
    let list = |sdk: Sdk| async move { sdk.ecs.list_clusters().send().await.unwrap().cluster_arns().len() };

    let first = sdk.at(&place, Some(stg), "ecs-cost-saver-staging").await.unwrap();
    assert_eq!(list(first.clone()).await, 1, "the target account's one cluster");
    assert_eq!(assume_roles(&world), 1);
    assert!(began.elapsed() < Duration::from_secs(2), "the first calls fit in the session's first 2 s");
    let again = sdk.at(&place, Some(stg), "ecs-cost-saver-staging").await.unwrap();
    assert_eq!(list(again.clone()).await, 1);
    assert_eq!(assume_roles(&world), 0, "within the session: the same credentials");

    tokio::time::sleep(Duration::from_secs(6).saturating_sub(began.elapsed()) + Duration::from_millis(500)).await;
    assert_eq!(list(again).await, 1);
    assert_eq!(assume_roles(&world), 1, "past the margin: assumed again, by the same clients");
    assert_eq!(sdk.spokes.as_ref().unwrap().keys(), [(Some(STG_ROLE.into()), REGION.into())]);
}
