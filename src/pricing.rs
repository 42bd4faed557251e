//! What ECS tasks cost per hour, and what stopping them saves (README, "How the savings are
//! computed and where the prices come from"). Pure: the caller brings each service's task size,
//! its tasks per capacity and the schedule's `pricing:`; nothing here reads AWS or a clock.
//!
//! The formula: a task costs `vCPU × price per vCPU-hour + GiB × price per GB-hour` an hour on
//! Fargate, `(1 − fargate_spot_discount)` of that on Fargate Spot, and nothing we can know on EC2
//! (its instances cost, which a task's price does not model; those tasks are counted apart).
//! AWS bills Fargate memory per "GB" of the task's memory, which the task definition gives in MiB:
//! 512 MiB is billed as 0.5 GB, so the GB of the price list are GiB here.

use std::fmt;
use std::iter::Sum;
use std::ops::Add;
use std::str::FromStr;

use serde::Serialize;

use crate::text::escaped;

// ---- what a task is ----

/// A task definition's CPU architecture (`runtimePlatform.cpuArchitecture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum Architecture {
    #[default]
    #[serde(rename = "X86_64")]
    X86_64,
    #[serde(rename = "ARM64")]
    Arm64,
}

impl Architecture {
    /// ECS's value as DescribeTaskDefinition returns it; a task definition without
    /// `runtimePlatform.cpuArchitecture` runs on X86_64.
    pub fn from_ecs(value: Option<&str>) -> Result<Architecture, String> {
        value.map_or(Ok(Architecture::X86_64), str::parse)
    }

    /// ECS's spelling: `X86_64` or `ARM64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "X86_64",
            Architecture::Arm64 => "ARM64",
        }
    }

    /// The key under `pricing.fargate` in the schedule file.
    pub fn schedule_key(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl FromStr for Architecture {
    type Err = String;

    fn from_str(s: &str) -> Result<Architecture, String> {
        match s {
            "X86_64" => Ok(Architecture::X86_64),
            "ARM64" => Ok(Architecture::Arm64),
            other => Err(format!("unknown CPU architecture `{}`: ECS knows X86_64 and ARM64", escaped(other))),
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a task runs, as far as its price goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LaunchCapacity {
    Fargate,
    FargateSpot,
    /// An EC2-backed capacity provider (an Auto Scaling group), or the EC2 or EXTERNAL launch
    /// type: the instances cost, the task does not.
    Ec2,
}

impl LaunchCapacity {
    /// A capacity provider by name: `FARGATE` and `FARGATE_SPOT` are AWS's own, any other name is
    /// a provider the account created on an Auto Scaling group. A service's `launchType`
    /// (`FARGATE`, `EC2`, `EXTERNAL`) reads the same way.
    pub fn of_provider(name: &str) -> LaunchCapacity {
        match name {
            "FARGATE" => LaunchCapacity::Fargate,
            "FARGATE_SPOT" => LaunchCapacity::FargateSpot,
            _ => LaunchCapacity::Ec2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LaunchCapacity::Fargate => "FARGATE",
            LaunchCapacity::FargateSpot => "FARGATE_SPOT",
            LaunchCapacity::Ec2 => "EC2",
        }
    }
}

impl fmt::Display for LaunchCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one task of a task definition asks for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TaskSize {
    pub vcpu: f64,
    pub gib: f64,
    pub architecture: Architecture,
}

impl TaskSize {
    /// From the task definition's `cpu` (CPU units, 1024 to a vCPU) and `memory` (MiB).
    pub fn from_units(cpu_units: u32, memory_mib: u32, architecture: Architecture) -> TaskSize {
        TaskSize { vcpu: f64::from(cpu_units) / 1024.0, gib: f64::from(memory_mib) / 1024.0, architecture }
    }
}

// ---- where a service's tasks run ----

/// One item of a service's capacity provider strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrategyItem {
    pub provider: String,
    pub base: u32,
    pub weight: u32,
}

/// How ECS spreads `tasks` over a capacity provider strategy, merged by capacity in the order
/// the strategy first names each, without empty entries.
///
/// ECS's rule (API reference, CapacityProviderStrategyItem,
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CapacityProviderStrategyItem.html>):
/// `base` is "how many tasks, at a minimum, to run on the specified capacity provider"; "only one
/// capacity provider in a capacity provider strategy can have a base defined"; `weight` is "the
/// relative percentage of the total number of tasks launched that should use the specified
/// capacity provider", "taken into consideration after the base value, if defined, is
/// satisfied"; a provider of weight 0 places no task beyond its base (weights 1 and 4: "for every
/// one task that is run using capacityProviderA, four tasks would use capacityProviderB").
///
/// ECS does not document how it rounds a share that does not divide evenly, so ours is
/// deterministic and stated: each provider gets the whole part of its share, and the tasks left
/// over go one each to the largest remainders, ties to the provider listed first. The counts
/// always sum to `tasks` (for a non-empty strategy; an empty one places nothing: such a service
/// has a launch type instead, which [`LaunchCapacity::of_provider`] reads). Should several items
/// carry a base (ECS refuses that), the first one's counts; should every weight be 0 (ECS accepts
/// that for a single provider only), the tasks beyond the base go to the base's provider, else to
/// the first one.
pub fn split(strategy: &[StrategyItem], tasks: u32) -> Vec<(LaunchCapacity, u32)> {
    if strategy.is_empty() {
        return Vec::new();
    }
    let mut counts = vec![0u32; strategy.len()];
    let based = strategy.iter().position(|item| item.base > 0);
    let mut rest = tasks;
    if let Some(i) = based {
        let base = strategy[i].base.min(rest);
        counts[i] += base;
        rest -= base;
    }
    let total: u64 = strategy.iter().map(|item| u64::from(item.weight)).sum();
    if total == 0 {
        counts[based.unwrap_or(0)] += rest;
    } else if rest > 0 {
        let shares: Vec<(u64, u64)> = strategy
            .iter()
            .map(|item| {
                let share = u64::from(rest) * u64::from(item.weight);
                (share / total, share % total)
            })
            .collect();
        for (count, (whole, _)) in counts.iter_mut().zip(&shares) {
            // A whole share is at most `rest`, a u32.
            *count += *whole as u32;
        }
        let placed: u64 = shares.iter().map(|(whole, _)| whole).sum();
        let mut by_remainder: Vec<usize> = (0..strategy.len()).collect();
        // Stable: equal remainders keep the strategy's order.
        by_remainder.sort_by(|&a, &b| shares[b].1.cmp(&shares[a].1));
        for &i in by_remainder.iter().take((u64::from(rest) - placed) as usize) {
            counts[i] += 1;
        }
    }
    let mut merged: Vec<(LaunchCapacity, u32)> = Vec::new();
    for (item, count) in strategy.iter().zip(counts) {
        let capacity = LaunchCapacity::of_provider(&item.provider);
        match merged.iter_mut().find(|(c, _)| *c == capacity) {
            Some((_, n)) => *n += count,
            None => merged.push((capacity, count)),
        }
    }
    merged.retain(|(_, n)| *n > 0);
    merged
}

// ---- the price table shipped with the binary ----

/// The page AWS publishes the table's prices on. It draws the regional figures with a script, so
/// the stored copy of the English page holds none of them (and the stored Japanese page,
/// aws.amazon.com/jp/fargate/pricing/, still shows the prices from before AWS's January 2019 cut:
/// not used). Each figure below names the stored source it was read from; most quote AWS's Price
/// List API, the data behind that page.
pub const PRICES_SOURCE: &str = "https://aws.amazon.com/fargate/pricing/";

/// The day the table was compiled from the stored sources beside its figures; the sources' own
/// dates, when they give one, are there too (2026-05-01 to 2026-09-06). Check the page above
/// before relying on a figure: AWS changes prices without telling this file.
pub const PRICES_AS_OF: &str = "2026-12-03";

/// Fargate on-demand, Linux, per hour. Windows tasks (an OS license fee per vCPU-hour on top)
/// and ephemeral storage beyond the 20 GB every task gets free are out of scope.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FargatePrice {
    pub vcpu_hour: f64,
    pub gb_hour: f64,
}

/// USD per vCPU-hour and per GB-hour.
///
/// - ap-northeast-1 (Tokyo), both architectures: a public design record (ADR 0070, "Run the
///   VOICEVOX (Zundamon) engine on demand", in the code index as stored file 65748944087), which
///   quotes the Price List API on 2026-09-06: "x86 $0.05056 per vCPU-hour and $0.00553 per
///   GB-hour; ARM $0.04045 and $0.00442". The x86 pair agrees with theuves/fgcalc
///   `src/utils/data.js` (ap-northeast-1 "normal": cpu 0.05056, ram 0.00553) and, for the vCPU,
///   with https://www.clyr.co.jp/posts/aws-fargate-pricing-breakdown-estimate-tips-3920
///   ($0.05056, 2025-09; it gives memory as $0.005536, a rounding of the per-second price).
/// - eu-west-1 (Ireland), both architectures: an audit of a cost adapter dated 2026-05-01
///   ("AUDIT-10: Containers (ECS/ECR/EKS) Service Adapter", stored file 53280073722), raw Price
///   List data: `EU-Fargate-vCPU-Hours:perCPU` $0.04048, `EU-Fargate-GB-Hours` $0.004445,
///   `EU-Fargate-ARM-vCPU-Hours:perCPU` $0.03238, `EU-Fargate-ARM-GB-Hours` $0.00356.
/// - us-east-1 (N. Virginia): x86 $0.04048 / $0.004445 from the same audit (its us-east-1 row)
///   and https://vantage.sh/blog/fargate-pricing ("Linux/x86 $0.04048 $0.004445"); ARM $0.03238
///   / $0.00356 from that blog ("Linux/ARM $0.03238 $0.00356") and a Terraform output that quotes
///   the Price List API on 2026-08-28 ("USE1-Fargate-ARM-vCPU-Hours $0.03238,
///   USE1-Fargate-ARM-GB-Hours $0.00356", stored file 59255712470).
/// - ap-northeast-3 (Osaka): no stored source gives its Fargate prices, so the table has no row
///   for it rather than a guess; a schedule for Osaka sets `pricing.fargate`.
const TABLE: &[(&str, Architecture, FargatePrice)] = &[
    ("ap-northeast-1", Architecture::X86_64, FargatePrice { vcpu_hour: 0.05056, gb_hour: 0.00553 }),
    ("ap-northeast-1", Architecture::Arm64, FargatePrice { vcpu_hour: 0.04045, gb_hour: 0.00442 }),
    ("eu-west-1", Architecture::X86_64, FargatePrice { vcpu_hour: 0.04048, gb_hour: 0.004445 }),
    ("eu-west-1", Architecture::Arm64, FargatePrice { vcpu_hour: 0.03238, gb_hour: 0.00356 }),
    ("us-east-1", Architecture::X86_64, FargatePrice { vcpu_hour: 0.04048, gb_hour: 0.004445 }),
    ("us-east-1", Architecture::Arm64, FargatePrice { vcpu_hour: 0.03238, gb_hour: 0.00356 }),
];

/// The table's USD price for a region and architecture.
pub fn table_price(region: &str, architecture: Architecture) -> Option<FargatePrice> {
    TABLE.iter().find(|(r, a, _)| *r == region && *a == architecture).map(|(_, _, price)| *price)
}

/// The regions the table has, once each, in its order.
pub fn table_regions() -> Vec<&'static str> {
    let mut regions: Vec<&'static str> = Vec::new();
    for (region, _, _) in TABLE {
        if !regions.contains(region) {
            regions.push(region);
        }
    }
    regions
}

// ---- the schedule's `pricing:` ----

/// What FARGATE_SPOT tasks get off Fargate's price when the schedule does not say. AWS
/// advertises "up to a 70% discount off the regular Fargate price"; the real Spot price moves
/// with supply and differs by region (a third-party snapshot, theuves/fgcalc, had about 61% off
/// in Tokyo and 69% in us-east-1). The upper bound is the default because the tool's headline is
/// what stopping saves: a Spot task counted at AWS's lowest advertised price never has its saving
/// overstated. The cost of running Spot tasks (`status`) is understated by as much; set your
/// region's figure for a closer one.
pub const DEFAULT_FARGATE_SPOT_DISCOUNT: f64 = 0.7;

/// An ISO 4217 currency code: three capital letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn usd() -> Currency {
        Currency("USD".to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_usd(&self) -> bool {
        self.0 == "USD"
    }
}

impl Default for Currency {
    fn default() -> Currency {
        Currency::usd()
    }
}

impl TryFrom<&str> for Currency {
    type Error = String;

    fn try_from(code: &str) -> Result<Currency, String> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(code.to_string()))
        } else {
            Err(format!(
                "`{}` is not an ISO 4217 currency code: write its three capital letters, e.g. JPY or USD",
                escaped(code)
            ))
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `pricing.fargate`: prices of the user's own, per hour in the schedule's currency.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct OwnPrices {
    pub x86_64: Option<FargatePrice>,
    pub arm64: Option<FargatePrice>,
}

impl OwnPrices {
    pub fn get(&self, architecture: Architecture) -> Option<FargatePrice> {
        match architecture {
            Architecture::X86_64 => self.x86_64,
            Architecture::Arm64 => self.arm64,
        }
    }

    fn complete(&self) -> bool {
        self.x86_64.is_some() && self.arm64.is_some()
    }
}

/// The schedule's `pricing:`, checked: the currency is a code, the exchange rate and prices are
/// numbers that make sense, and a currency other than USD can convert the table when the table
/// is used. The default is USD at the table's prices.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    currency: Currency,
    usd_rate: Option<f64>,
    fargate_spot_discount: f64,
    fargate: OwnPrices,
}

impl Default for Pricing {
    fn default() -> Pricing {
        Pricing {
            currency: Currency::usd(),
            usd_rate: None,
            fargate_spot_discount: DEFAULT_FARGATE_SPOT_DISCOUNT,
            fargate: OwnPrices::default(),
        }
    }
}

/// The `pricing:` value a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Currency,
    UsdRate,
    FargateSpotDiscount,
    VcpuHour(Architecture),
    GbHour(Architecture),
}

/// One problem with a `pricing:` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricingProblem {
    pub field: Field,
    pub message: String,
}

impl Pricing {
    /// Check the parts of a `pricing:` as written (None: left out); every problem at once.
    pub fn new(
        currency: Option<&str>,
        usd_rate: Option<f64>,
        fargate_spot_discount: Option<f64>,
        fargate: OwnPrices,
    ) -> Result<Pricing, Vec<PricingProblem>> {
        let mut problems = Vec::new();
        let mut problem = |field, message: String| problems.push(PricingProblem { field, message });
        let written = currency;
        let currency = match written.map(Currency::try_from).transpose() {
            Ok(currency) => currency,
            Err(message) => {
                problem(Field::Currency, message);
                None
            }
        };
        // Messages name the currency written; a code that is not one is reported on its own.
        let (code, usd) = match (written, &currency) {
            (None, _) => ("USD".to_string(), true),
            (Some(_), Some(valid)) => (valid.to_string(), valid.is_usd()),
            (Some(_), None) => ("units of `currency`".to_string(), false),
        };
        if let Some(rate) = usd_rate {
            if usd && rate != 1.0 {
                problem(
                    Field::UsdRate,
                    "`usd_rate` converts the price table's USD into `currency`: with USD (the default currency) leave it out".into(),
                );
            } else if !(rate.is_finite() && rate > 0.0) {
                problem(
                    Field::UsdRate,
                    format!(
                        "`usd_rate` is how many {code} one USD buys (e.g. 150 for JPY): a positive number, not {rate}"
                    ),
                );
            }
        }
        if let Some(discount) = fargate_spot_discount
            && !(discount.is_finite() && (0.0..1.0).contains(&discount))
        {
            problem(
                Field::FargateSpotDiscount,
                format!(
                    "`fargate_spot_discount` is the fraction off Fargate's price that FARGATE_SPOT tasks get: at least 0 and less than 1 (0.7 is 70% off), not {discount}"
                ),
            );
        }
        for architecture in [Architecture::X86_64, Architecture::Arm64] {
            let Some(price) = fargate.get(architecture) else { continue };
            let checks = [
                (Field::VcpuHour(architecture), "vcpu_hour", "vCPU-hour", price.vcpu_hour),
                (Field::GbHour(architecture), "gb_hour", "GB-hour", price.gb_hour),
            ];
            for (field, key, unit, value) in checks {
                if !(value.is_finite() && value >= 0.0) {
                    problem(field, format!("`{key}` is a price in {code} per {unit}: 0 or more, not {value}"));
                }
            }
        }
        if let Some(currency) = &currency
            && !currency.is_usd()
            && usd_rate.is_none()
            && !fargate.complete()
        {
            problem(
                Field::Currency,
                format!(
                    "currency {currency} needs `usd_rate` ({currency} per USD) to convert the price table's USD prices, or prices of your own for both `fargate.x86_64` and `fargate.arm64`"
                ),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Pricing {
            currency: currency.unwrap_or_default(),
            usd_rate,
            fargate_spot_discount: fargate_spot_discount.unwrap_or(DEFAULT_FARGATE_SPOT_DISCOUNT),
            fargate,
        })
    }

    pub fn currency(&self) -> &Currency {
        &self.currency
    }

    pub fn usd_rate(&self) -> Option<f64> {
        self.usd_rate
    }

    pub fn fargate_spot_discount(&self) -> f64 {
        self.fargate_spot_discount
    }

    pub fn own_prices(&self) -> OwnPrices {
        self.fargate
    }

    /// The per-hour prices for tasks of `architecture` in `region`, in the schedule's currency:
    /// its own `pricing.fargate` when it gives that architecture, else the table converted at
    /// `usd_rate`.
    pub fn rates(&self, region: &str, architecture: Architecture) -> Result<Rates, String> {
        let rates = |price: FargatePrice, source| Rates {
            currency: self.currency.clone(),
            vcpu_hour: price.vcpu_hour,
            gb_hour: price.gb_hour,
            spot_discount: self.fargate_spot_discount,
            source,
        };
        if let Some(price) = self.fargate.get(architecture) {
            return Ok(rates(price, PriceSource::Schedule));
        }
        let usd = table_price(region, architecture).ok_or_else(|| {
            format!(
                "no Fargate {architecture} price for region `{}` in the table shipped with ecs-cost-saver (it has {}): add `pricing.fargate.{}` with your prices in {} to the schedule file",
                escaped(region),
                table_regions().join(", "),
                architecture.schedule_key(),
                self.currency
            )
        })?;
        let to_currency = match self.usd_rate {
            Some(rate) => rate,
            None if self.currency.is_usd() => 1.0,
            // `Pricing::new` lets no such value through; say what is missing rather than panic.
            None => return Err(format!("currency {} needs `usd_rate` to convert the price table", self.currency)),
        };
        let price = FargatePrice { vcpu_hour: usd.vcpu_hour * to_currency, gb_hour: usd.gb_hour * to_currency };
        Ok(rates(price, PriceSource::Table))
    }
}

/// Where a rate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The table shipped with the binary ([`PRICES_SOURCE`], [`PRICES_AS_OF`]).
    Table,
    /// The schedule's `pricing.fargate`.
    Schedule,
}

/// Per-hour Fargate prices for one region and architecture, in one currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rates {
    pub currency: Currency,
    pub vcpu_hour: f64,
    pub gb_hour: f64,
    /// The fraction off these prices that FARGATE_SPOT tasks get.
    pub spot_discount: f64,
    pub source: PriceSource,
}

impl Rates {
    /// What one task of `size` costs an hour on `capacity`; None on EC2, whose price is the
    /// instance's.
    pub fn task_hour(&self, size: &TaskSize, capacity: LaunchCapacity) -> Option<f64> {
        let on_demand = size.vcpu * self.vcpu_hour + size.gib * self.gb_hour;
        match capacity {
            LaunchCapacity::Fargate => Some(on_demand),
            LaunchCapacity::FargateSpot => Some(on_demand * (1.0 - self.spot_discount)),
            LaunchCapacity::Ec2 => None,
        }
    }
}

// ---- the arithmetic ----

/// What some tasks use an hour: the resources of every task, the cost of those priced.
/// Usages of one schedule (one currency) add up, service by service.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Usage {
    pub vcpu_per_hour: f64,
    pub gib_per_hour: f64,
    /// The Fargate and Fargate Spot tasks' cost; None when no task was priced (all on EC2).
    pub cost_per_hour: Option<f64>,
    pub currency: String,
    /// Tasks on EC2 capacity: counted in vCPU and GiB, not in the cost (their instances cost,
    /// which task prices do not model).
    #[serde(skip_serializing_if = "is_zero")]
    pub unpriced_tasks: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a service's tasks of `size`, spread as `tasks_by_capacity` says ([`split`]), use an hour
/// at `rates`.
pub fn usage(size: &TaskSize, tasks_by_capacity: &[(LaunchCapacity, u32)], rates: &Rates) -> Usage {
    let (mut tasks, mut priced, mut unpriced, mut cost) = (0u32, 0u32, 0u32, 0.0);
    for &(capacity, n) in tasks_by_capacity {
        tasks += n;
        match rates.task_hour(size, capacity) {
            Some(per_task) => {
                priced += n;
                cost += f64::from(n) * per_task;
            }
            None => unpriced += n,
        }
    }
    Usage {
        vcpu_per_hour: f64::from(tasks) * size.vcpu,
        gib_per_hour: f64::from(tasks) * size.gib,
        cost_per_hour: (priced > 0 || unpriced == 0).then_some(cost),
        currency: rates.currency.to_string(),
        unpriced_tasks: unpriced,
    }
}

impl Usage {
    /// A line the report can print about what the cost leaves out, if anything.
    pub fn note(&self) -> Option<String> {
        (self.unpriced_tasks > 0).then(|| {
            format!(
                "{} task(s) on EC2 capacity not priced: their instances cost, which task prices do not model",
                self.unpriced_tasks
            )
        })
    }
}

impl Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        let cost_per_hour = match (self.cost_per_hour, other.cost_per_hour) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        Usage {
            vcpu_per_hour: self.vcpu_per_hour + other.vcpu_per_hour,
            gib_per_hour: self.gib_per_hour + other.gib_per_hour,
            cost_per_hour,
            // The empty currency is the sum's starting point ([`Default`]).
            currency: if self.currency.is_empty() { other.currency } else { self.currency },
            unpriced_tasks: self.unpriced_tasks + other.unpriced_tasks,
        }
    }
}

impl Sum for Usage {
    fn sum<I: Iterator<Item = Usage>>(iter: I) -> Usage {
        iter.fold(Usage::default(), Add::add)
    }
}

impl fmt::Display for Usage {
    /// `0.75 vCPU, 1.5 GiB, $0.0462/hour`, and what the cost leaves out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} vCPU, {} GiB", number(self.vcpu_per_hour), number(self.gib_per_hour))?;
        if let Some(cost) = self.cost_per_hour {
            write!(f, ", {}/hour", fmt_money(cost, &self.currency))?;
        }
        if self.unpriced_tasks > 0 {
            write!(f, " ({} EC2 task(s) not priced)", self.unpriced_tasks)?;
        }
        Ok(())
    }
}

/// AWS prices a month as 730 hours (365 days × 24 hours / 12 months).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// What a month of a schedule saves: the cost an hour while up, times the hours of a pricing
/// month the schedule keeps it down (`fraction_of_week_down`: 0 to 1, `plan`'s 1 − up fraction).
pub fn monthly(cost_per_hour_when_up: f64, fraction_of_week_down: f64) -> f64 {
    cost_per_hour_when_up * HOURS_PER_MONTH * fraction_of_week_down
}

/// An amount as the text output shows it. JPY: whole yen, `¥1,234` (`<¥1` for a cost that is
/// not nothing but rounds to it); USD: `$0.0462` below a dollar (four decimals, enough for a
/// per-hour figure), `$1,234.56` from a dollar up; other currencies likewise with the code
/// after the number, `0.0462 EUR`.
pub fn fmt_money(amount: f64, currency: &str) -> String {
    let sign = if amount < 0.0 { "-" } else { "" };
    let magnitude = amount.abs();
    if currency == "JPY" {
        let yen = magnitude.round();
        if yen == 0.0 && magnitude > 0.0 {
            return format!("{sign}<¥1");
        }
        return format!("{sign}¥{}", grouped(&format!("{yen:.0}")));
    }
    let digits = if magnitude < 1.0 { 4 } else { 2 };
    let text = format!("{magnitude:.digits$}");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let number = format!("{}.{fraction}", grouped(whole));
    match currency {
        "USD" => format!("{sign}${number}"),
        code => format!("{sign}{number} {code}"),
    }
}

/// Digits in groups of three: `1234567` -> `1,234,567`.
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A resource figure without a needless fraction: `1.5`, `2`, `0.75`.
/// A figure without trailing zeros: `1.5`, `0.25`, `3`.
pub fn number(x: f64) -> String {
    let text = format!("{x:.4}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests;
