//! AWS's request-rate limits as token buckets, and the arithmetic the function paces itself
//! by: which bucket each call draws from, when the next token of a bucket is there, how long a
//! batch of calls takes at best, and how much of an environment fits before a deadline. Pure:
//! the clock is a number of seconds handed in (the SDK's own clock in `aws::sdk`, virtual time
//! in the tests, the test world's clock in `tests/support/world.rs`).
//!
//! The figures are AWS's published ones, per account and region:
//! - Amazon ECS, "Request throttling for the Amazon ECS API" (APIReference/request-throttling):
//!   service modify 50 burst / 5 per second, service read 100/20, cluster resource read 100/20,
//!   cluster resource modify 100/40 (UpdateContainerInstancesState), tag modify 20/10; "All API
//!   actions in a category share the same token bucket";
//! - Elastic Load Balancing, "Request throttling for the Elastic Load Balancing API"
//!   (elasticloadbalancing/latest/userguide/elb-api-throttling): registration
//!   (RegisterTargets/DeregisterTargets) 20/4, non-mutating (Describe*) 40/10, and an
//!   account-level bucket of 40/10 that every ELB call draws from as well;
//! - EventBridge Scheduler quotas: CreateSchedule 5,000 per second in the primary Regions, 250
//!   elsewhere (Osaka is elsewhere); GetSchedule 1,000 / 250. One bucket here, at 250/250.
//!
//! Two are models, not published figures, chosen to be conservative:
//! - Application Auto Scaling publishes no request rate; we assume one bucket of 20 / 5 per
//!   second for all its calls (as tight as ECS's service modify, which it sits behind);
//! - a DynamoDB on-demand table has no request bucket, only its throughput (a new table takes
//!   up to 4,000 writes a second); we assume 1,000 / 1,000 per second, which never binds.

use std::fmt;

/// One API group: the calls that draw from one token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    EcsServiceModify,
    EcsServiceRead,
    EcsClusterRead,
    EcsClusterModify,
    EcsTagModify,
    ElbRegister,
    ElbDescribe,
    /// Every ELB call draws from this one too.
    ElbAccount,
    Scaling,
    Scheduler,
    Table,
}

/// A bucket's size (the burst) and how many tokens come back each second (the sustained rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub burst: f64,
    pub refill: f64,
}

/// Every group: its name in settings and reports, AWS's figures, and its operations.
pub const GROUPS: [(Group, &str, Limit, &[&str]); 11] = [
    (
        Group::EcsServiceModify,
        "ecs-service-modify",
        Limit { burst: 50.0, refill: 5.0 },
        &["UpdateService", "CreateService", "DeleteService"],
    ),
    (
        Group::EcsServiceRead,
        "ecs-service-read",
        Limit { burst: 100.0, refill: 20.0 },
        &["DescribeServices", "ListServices"],
    ),
    (
        Group::EcsClusterRead,
        "ecs-cluster-read",
        Limit { burst: 100.0, refill: 20.0 },
        &["ListTasks", "DescribeTasks", "ListContainerInstances", "DescribeContainerInstances"],
    ),
    (
        Group::EcsClusterModify,
        "ecs-cluster-resource-modify",
        Limit { burst: 100.0, refill: 40.0 },
        &["UpdateContainerInstancesState", "RunTask", "StopTask"],
    ),
    (Group::EcsTagModify, "ecs-tag-modify", Limit { burst: 20.0, refill: 10.0 }, &["TagResource", "UntagResource"]),
    (Group::ElbRegister, "elb-register", Limit { burst: 20.0, refill: 4.0 }, &["RegisterTargets", "DeregisterTargets"]),
    (
        Group::ElbDescribe,
        "elb-describe",
        Limit { burst: 40.0, refill: 10.0 },
        &["DescribeTargetHealth", "DescribeTargetGroups"],
    ),
    (Group::ElbAccount, "elb-account", Limit { burst: 40.0, refill: 10.0 }, &[]),
    (
        Group::Scaling,
        "application-autoscaling",
        Limit { burst: 20.0, refill: 5.0 },
        &["DescribeScalableTargets", "RegisterScalableTarget", "DescribeScheduledActions"],
    ),
    (
        Group::Scheduler,
        "scheduler",
        Limit { burst: 250.0, refill: 250.0 },
        &["GetSchedule", "CreateSchedule", "UpdateSchedule"],
    ),
    (
        Group::Table,
        "dynamodb",
        Limit { burst: 1000.0, refill: 1000.0 },
        &["BatchGetItem", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "CreateTable", "DescribeTable"],
    ),
];

impl Group {
    pub const ALL: [Group; 11] = [
        Group::EcsServiceModify,
        Group::EcsServiceRead,
        Group::EcsClusterRead,
        Group::EcsClusterModify,
        Group::EcsTagModify,
        Group::ElbRegister,
        Group::ElbDescribe,
        Group::ElbAccount,
        Group::Scaling,
        Group::Scheduler,
        Group::Table,
    ];

    fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        GROUPS[self.index()].1
    }

    /// AWS's published figure (or our model, see the module's comment).
    pub fn published(self) -> Limit {
        GROUPS[self.index()].2
    }

    /// The group of an AWS operation (its name as in the API reference), if it is one we know.
    pub fn of(operation: &str) -> Option<Group> {
        GROUPS.iter().find(|(_, _, _, ops)| ops.contains(&operation)).map(|(g, ..)| *g)
    }

    /// The account-wide bucket a call of this group draws from as well (ELB's).
    pub fn shared(self) -> Option<Group> {
        matches!(self, Group::ElbRegister | Group::ElbDescribe).then_some(Group::ElbAccount)
    }

    /// Every bucket a call of `operation` draws from.
    pub fn all_of(operation: &str) -> Vec<Group> {
        Group::of(operation).map(|g| std::iter::once(g).chain(g.shared()).collect()).unwrap_or_default()
    }

    pub fn from_name(name: &str) -> Option<Group> {
        GROUPS.iter().find(|(_, n, ..)| *n == name).map(|(g, ..)| *g)
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The limits the function paces itself by: AWS's figures, overridden per group (an account
/// with raised limits), each taken at `share` (another tool draws from the same buckets).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    limits: [Limit; 11],
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { limits: Group::ALL.map(Group::published) }
    }
}

impl Limits {
    pub fn get(&self, group: Group) -> Limit {
        self.limits[group.index()]
    }

    pub fn set(&mut self, group: Group, limit: Limit) {
        self.limits[group.index()] = limit;
    }

    /// From the setting's text: `GROUP=BURST/REFILL` pairs, comma-separated, and optionally
    /// `share=FRACTION` (0 < f ≤ 1), which scales every bucket, burst and refill.
    pub fn parse(text: &str) -> Result<Limits, String> {
        let mut limits = Limits::default();
        let mut share = 1.0;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("`{part}` is not GROUP=BURST/REFILL or share=FRACTION"));
            };
            let (name, value) = (name.trim(), value.trim());
            if name == "share" {
                share = value
                    .parse::<f64>()
                    .ok()
                    .filter(|f| *f > 0.0 && *f <= 1.0)
                    .ok_or_else(|| format!("share={value} must be a fraction above 0 and at most 1"))?;
                continue;
            }
            let group = Group::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = Group::ALL.iter().map(|g| g.name()).collect();
                format!("unknown API group `{name}`; the groups are {}", names.join(", "))
            })?;
            let number = |v: &str| v.trim().parse::<f64>().ok().filter(|n| n.is_finite() && *n > 0.0);
            let limit = value
                .split_once('/')
                .and_then(|(b, r)| Some(Limit { burst: number(b)?, refill: number(r)? }))
                .filter(|l| l.burst >= 1.0)
                .ok_or_else(|| format!("{name}={value} must be BURST/REFILL, e.g. 50/5 (burst ≥ 1, refill > 0)"))?;
            limits.set(group, limit);
        }
        for l in &mut limits.limits {
            *l = Limit { burst: (l.burst * share).max(1.0), refill: l.refill * share };
        }
        Ok(limits)
    }
}

impl Limits {
    /// What the function paces itself by: each burst less a little headroom (a quarter of a
    /// second of refill, at least one token), so that a request that reaches AWS a little sooner
    /// than the one before it (latency varies) still finds its token there.
    pub fn with_headroom(&self) -> Limits {
        let mut limits = self.clone();
        for l in &mut limits.limits {
            let headroom = (0.25 * l.refill).ceil().max(1.0);
            l.burst = (l.burst - headroom).max(1.0);
        }
        limits
    }
}

/// One token bucket on a clock of seconds. Tokens are reserved in order: a call takes the next
/// token even if it is not there yet and is told how long to wait for it, so callers are served
/// first come, first served, and the bucket never goes faster than its refill.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    limit: Limit,
    /// Tokens at `at`; below zero when tokens are promised that have not come back yet.
    tokens: f64,
    at: f64,
}

impl Bucket {
    /// A full bucket at time `now`.
    pub fn full(limit: Limit, now: f64) -> Bucket {
        Bucket { limit, tokens: limit.burst, at: now }
    }

    fn refill(&mut self, now: f64) {
        if now > self.at {
            self.tokens = (self.tokens + (now - self.at) * self.limit.refill).min(self.limit.burst);
            self.at = now;
        }
    }

    /// When the next token is there, at `now` or later (after the tokens promised already).
    pub fn next(&mut self, now: f64) -> f64 {
        self.refill(now);
        let from = now.max(self.at);
        if self.tokens >= 1.0 { from } else { from + (1.0 - self.tokens) / self.limit.refill }
    }

    /// Take a token at `at` (no earlier than [`Bucket::next`] said): the bucket refills up to
    /// then, and not before, as AWS's does when the call arrives.
    pub fn take_at(&mut self, at: f64) {
        self.refill(at);
        self.tokens -= 1.0;
    }

    /// Reserve the next token at `now`: the seconds to wait before the call may go.
    pub fn reserve(&mut self, now: f64) -> f64 {
        let at = self.next(now);
        self.take_at(at);
        at - now
    }

    /// Take a token only if one is there now (the test world's answer: false is a throttle).
    pub fn try_take(&mut self, now: f64) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Tokens there at `now` (negative: promised ahead).
    pub fn tokens(&mut self, now: f64) -> f64 {
        self.refill(now);
        self.tokens
    }
}

/// The buckets of every group, as one invocation (or a warm container) sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    buckets: Vec<Bucket>,
}

impl Buckets {
    pub fn full(limits: &Limits, now: f64) -> Buckets {
        Buckets { buckets: Group::ALL.iter().map(|g| Bucket::full(limits.get(*g), now)).collect() }
    }

    pub fn get(&mut self, group: Group) -> &mut Bucket {
        &mut self.buckets[group.index()]
    }

    /// Reserve a call of `group` at `now`: a token of its bucket and of the account-wide one it
    /// shares, both taken when the later of the two is there (AWS takes both when the call
    /// arrives). The seconds to wait before the call may go.
    pub fn reserve(&mut self, group: Group, now: f64) -> f64 {
        let Some(shared) = group.shared() else { return self.get(group).reserve(now) };
        let at = self.get(group).next(now).max(self.get(shared).next(now));
        self.get(group).take_at(at);
        self.get(shared).take_at(at);
        at - now
    }
}

/// Calls per group.
pub type Calls = [u64; 11];

pub fn add(calls: &mut Calls, group: Group, n: u64) {
    calls[group.index()] += n;
}

/// The least time `calls` can take from full buckets: the slowest group's
/// `(calls − burst) / refill` (ELB's account-wide bucket counting every ELB call), and which
/// group that is.
pub fn bound(calls: &Calls, limits: &Limits) -> (f64, Option<Group>) {
    let mut calls = *calls;
    for g in [Group::ElbRegister, Group::ElbDescribe] {
        calls[Group::ElbAccount.index()] += calls[g.index()];
    }
    let calls = &calls;
    let mut worst = (0.0, None);
    for g in Group::ALL {
        let l = limits.get(g);
        let t = ((calls[g.index()] as f64 - l.burst) / l.refill).max(0.0);
        if calls[g.index()] > 0 && (worst.1.is_none() || t > worst.0) {
            worst = (t, Some(g));
        }
    }
    worst
}

/// How many of an environment's services fit into `budget` seconds, in their order: service `i`
/// makes the calls `work[i]` (one after another, each drawing from its group's bucket, the
/// buckets as `buckets` holds them at `now`), and is done `after` seconds after its last call
/// (a start waits for its tasks). The services after the first that does not fit are handed on;
/// since every bucket serves calls in order, a later service never finishes earlier.
pub fn fitting(work: &[Vec<Group>], buckets: &Buckets, now: f64, budget: f64, after: f64) -> usize {
    let mut b = buckets.clone();
    for (i, calls) in work.iter().enumerate() {
        let mut t = now;
        for g in calls {
            // The token is reserved at the time the service gets to this call; an ELB call
            // waits for the account-wide bucket too.
            t += b.reserve(*g, t);
        }
        if !calls.is_empty() && t - now + after > budget {
            return i;
        }
    }
    work.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_we_call_has_one_group() {
        for op in [
            "UpdateService",
            "DescribeServices",
            "ListTasks",
            "DescribeTasks",
            "DescribeContainerInstances",
            "ListContainerInstances",
            "UpdateContainerInstancesState",
            "TagResource",
            "UntagResource",
            "RegisterTargets",
            "DeregisterTargets",
            "DescribeTargetHealth",
            "DescribeTargetGroups",
            "DescribeScalableTargets",
            "RegisterScalableTarget",
            "DescribeScheduledActions",
            "GetSchedule",
            "CreateSchedule",
            "BatchGetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
        ] {
            assert!(Group::of(op).is_some(), "{op} has no group");
        }
        let mut all: Vec<&str> = GROUPS.iter().flat_map(|(.., ops)| ops.iter().copied()).collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), n, "an operation is in two groups");
        assert_eq!(Group::of("UpdateService"), Some(Group::EcsServiceModify));
        assert_eq!(Group::of("DescribeTargetHealth"), Some(Group::ElbDescribe));
        assert_eq!(Group::of("Frobnicate"), None);
        assert_eq!(Group::all_of("RegisterTargets"), vec![Group::ElbRegister, Group::ElbAccount]);
        assert_eq!(Group::all_of("UpdateService"), vec![Group::EcsServiceModify]);
    }

    #[test]
    fn a_bucket_serves_its_burst_at_once_then_its_refill() {
        let mut b = Bucket::full(Limit { burst: 50.0, refill: 5.0 }, 100.0);
        let waits: Vec<f64> = (0..52).map(|_| b.reserve(100.0)).collect();
        assert!(waits[..50].iter().all(|w| *w == 0.0));
        assert!((waits[50] - 0.2).abs() < 1e-9 && (waits[51] - 0.4).abs() < 1e-9, "{waits:?}");
        // 200 UpdateService from a full bucket: the last goes at (200 − 50) / 5 = 30 s.
        let mut b = Bucket::full(Limit { burst: 50.0, refill: 5.0 }, 0.0);
        let last = (0..200).map(|_| b.reserve(0.0)).fold(0.0, f64::max);
        assert!((last - 30.0).abs() < 1e-9, "{last}");
        // Refilled, never above the burst.
        let mut b = Bucket::full(Limit { burst: 20.0, refill: 4.0 }, 0.0);
        assert!((0..20).all(|_| b.try_take(0.0)));
        assert!(!b.try_take(0.0));
        assert!(!b.try_take(0.2), "0.8 of a token");
        assert!(b.try_take(0.25));
        assert_eq!(b.tokens(1000.0), 20.0);
    }

    #[test]
    fn an_elb_call_takes_both_tokens_when_it_goes() {
        let limits = Limits::parse("elb-register=20/4,elb-describe=40/10,elb-account=2/1").unwrap();
        let mut b = Buckets::full(&limits, 0.0);
        // Two DescribeTargetHealth and a RegisterTargets at 0 s: the account bucket holds 2.
        assert_eq!([0, 1, 2].map(|_| b.reserve(Group::ElbDescribe, 0.0)), [0.0, 0.0, 1.0]);
        // Both tokens of the third were taken at 1 s, when it goes: the describe bucket had
        // refilled to full by then (38 + 10, at most 40), as AWS's has when the call arrives.
        assert_eq!(b.get(Group::ElbDescribe).tokens(1.0), 39.0);
        assert_eq!(b.reserve(Group::ElbRegister, 0.0), 2.0);
        assert_eq!(b.get(Group::ElbRegister).tokens(2.0), 19.0);
    }

    #[test]
    fn the_bound_is_the_slowest_group() {
        let limits = Limits::default();
        let mut calls: Calls = [0; 11];
        add(&mut calls, Group::EcsServiceModify, 200);
        add(&mut calls, Group::ElbDescribe, 200);
        add(&mut calls, Group::EcsTagModify, 200);
        assert_eq!(bound(&calls, &limits), (30.0, Some(Group::EcsServiceModify)));
        // ELB's account-wide bucket: 200 DescribeTargetHealth + 200 RegisterTargets share 40/10.
        add(&mut calls, Group::ElbRegister, 200);
        assert_eq!(bound(&calls, &limits), (45.0, Some(Group::ElbRegister)));
        add(&mut calls, Group::ElbDescribe, 100);
        assert_eq!(bound(&calls, &limits), (46.0, Some(Group::ElbAccount)));
        let mut calls: Calls = [0; 11];
        add(&mut calls, Group::EcsClusterRead, 10);
        assert_eq!(bound(&calls, &limits), (0.0, Some(Group::EcsClusterRead)));
        assert_eq!(bound(&[0; 11], &limits), (0.0, None));
    }

    #[test]
    fn limits_are_overridden_by_name_and_shared_by_fraction() {
        let l = Limits::parse("ecs-service-modify=100/10, share=0.5").unwrap();
        assert_eq!(l.get(Group::EcsServiceModify), Limit { burst: 50.0, refill: 5.0 });
        assert_eq!(l.get(Group::ElbRegister), Limit { burst: 10.0, refill: 2.0 });
        assert_eq!(Limits::parse("").unwrap(), Limits::default());
        assert_eq!(
            Limits::parse("ecs-service-modfy=1/1").unwrap_err(),
            "unknown API group `ecs-service-modfy`; the groups are ecs-service-modify, ecs-service-read, \
             ecs-cluster-read, ecs-cluster-resource-modify, ecs-tag-modify, elb-register, elb-describe, \
             elb-account, application-autoscaling, scheduler, dynamodb"
        );
        assert_eq!(
            Limits::parse("elb-register=20").unwrap_err(),
            "elb-register=20 must be BURST/REFILL, e.g. 50/5 (burst ≥ 1, refill > 0)"
        );
        assert_eq!(Limits::parse("share=1.5").unwrap_err(), "share=1.5 must be a fraction above 0 and at most 1");
        assert_eq!(Limits::parse("share").unwrap_err(), "`share` is not GROUP=BURST/REFILL or share=FRACTION");
        let paced = Limits::default().with_headroom();
        assert_eq!(paced.get(Group::EcsServiceModify), Limit { burst: 48.0, refill: 5.0 });
        assert_eq!(paced.get(Group::EcsClusterRead), Limit { burst: 95.0, refill: 20.0 });
        assert_eq!(Limits::parse("elb-register=1/4").unwrap().with_headroom().get(Group::ElbRegister).burst, 1.0);
    }

    #[test]
    fn what_fits_before_the_deadline_is_a_prefix() {
        let limits = Limits::default();
        let buckets = Buckets::full(&limits, 0.0);
        // A stop of 1,000 services, one UpdateService each: the k-th goes at (k − 50) / 5 s.
        let work = vec![vec![Group::EcsServiceModify]; 1000];
        // 290 s of budget: 50 + 290 × 5 = 1,500 would fit; all 1,000 do.
        assert_eq!(fitting(&work, &buckets, 0.0, 290.0, 0.0), 1000);
        // 100 s: services 0..=549 go by 99.8 s, the 551st at 100.2 s.
        assert_eq!(fitting(&work, &buckets, 0.0, 100.0, 0.0), 550);
        // A start waits 60 s for its tasks after its last call: 40 s of calls, 250 services.
        assert_eq!(fitting(&work, &buckets, 0.0, 100.0, 60.0), 250);
        // Calls that need no token (unchanged services) always fit.
        let none = vec![Vec::new(); 5];
        assert_eq!(fitting(&none, &buckets, 0.0, 0.0, 60.0), 5);
        // A bucket another invocation just emptied leaves less.
        let mut used = buckets.clone();
        for _ in 0..50 {
            used.get(Group::EcsServiceModify).reserve(0.0);
        }
        assert_eq!(fitting(&work, &used, 0.0, 100.0, 0.0), 500);
    }
}
