use std::path::{Path, PathBuf};

use super::*;
use crate::schedule::Schedule;

/// Figures computed by hand are compared to a millionth of a cent.
fn close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-9, "got {got}, want {want}");
}

fn item(provider: &str, base: u32, weight: u32) -> StrategyItem {
    StrategyItem { provider: provider.into(), base, weight }
}

/// 0.25 vCPU / 0.5 GB: CPU 256 units, memory 512 MiB.
fn small(architecture: Architecture) -> TaskSize {
    TaskSize::from_units(256, 512, architecture)
}

fn tokyo(pricing: &Pricing, architecture: Architecture) -> Rates {
    pricing.rates("ap-northeast-1", architecture).unwrap()
}

fn pricing_of(yaml: &str) -> Pricing {
    let file = format!("{yaml}environments:\n  dev:\n    services: [{{cluster: c, service: s}}]\n");
    Schedule::parse(&file, "s.yaml").unwrap_or_else(|e| panic!("{e}")).pricing
}

/// Every `FILE:LINE:COL: message` line of a schedule whose `pricing:` is `yaml`.
fn problems(yaml: &str) -> Vec<String> {
    let file = format!("{yaml}environments:\n  dev:\n    services: [{{cluster: c, service: s}}]\n");
    match Schedule::parse(&file, "s.yaml") {
        Ok(_) => vec![],
        Err(e) => e.to_string().lines().map(str::to_string).collect(),
    }
}

// ---- what a task is ----

#[test]
fn architectures_read_as_ecs_writes_them() {
    assert_eq!(Architecture::from_ecs(None), Ok(Architecture::X86_64), "absent: X86_64");
    assert_eq!(Architecture::from_ecs(Some("X86_64")), Ok(Architecture::X86_64));
    assert_eq!(Architecture::from_ecs(Some("ARM64")), Ok(Architecture::Arm64));
    assert_eq!(
        Architecture::from_ecs(Some("arm64")),
        Err("unknown CPU architecture `arm64`: ECS knows X86_64 and ARM64".to_string())
    );
    assert_eq!(serde_json::to_string(&[Architecture::X86_64, Architecture::Arm64]).unwrap(), r#"["X86_64","ARM64"]"#);
}

#[test]
fn capacity_providers_name_their_capacity() {
    assert_eq!(LaunchCapacity::of_provider("FARGATE"), LaunchCapacity::Fargate);
    assert_eq!(LaunchCapacity::of_provider("FARGATE_SPOT"), LaunchCapacity::FargateSpot);
    assert_eq!(LaunchCapacity::of_provider("shop-stg-ecs-asg"), LaunchCapacity::Ec2, "an account's own provider");
    assert_eq!(LaunchCapacity::of_provider("EC2"), LaunchCapacity::Ec2, "a launch type reads the same");
    assert_eq!(LaunchCapacity::of_provider("fargate"), LaunchCapacity::Ec2, "provider names are case-sensitive");
    let all = [LaunchCapacity::Fargate, LaunchCapacity::FargateSpot, LaunchCapacity::Ec2];
    assert_eq!(serde_json::to_string(&all).unwrap(), r#"["FARGATE","FARGATE_SPOT","EC2"]"#);
}

#[test]
fn a_task_size_is_read_from_cpu_units_and_mib() {
    // 256 / 1024 = 0.25 vCPU, 512 / 1024 = 0.5 GiB; 4096 units = 4 vCPU, 30720 MiB = 30 GiB.
    assert_eq!(small(Architecture::X86_64), TaskSize { vcpu: 0.25, gib: 0.5, architecture: Architecture::X86_64 });
    let large = TaskSize::from_units(4096, 30720, Architecture::Arm64);
    assert_eq!((large.vcpu, large.gib), (4.0, 30.0));
}

// ---- the strategy split ----

#[test]
fn the_base_goes_first_then_the_weights_share_the_rest() {
    // 9 tasks: base 1 on FARGATE; the other 8 by weight 1 : 3 -> 8 × 1/4 = 2 and 8 × 3/4 = 6.
    let strategy = [item("FARGATE", 1, 1), item("FARGATE_SPOT", 0, 3)];
    assert_eq!(split(&strategy, 9), vec![(LaunchCapacity::Fargate, 3), (LaunchCapacity::FargateSpot, 6)]);
    // Fewer tasks than the base: all on the base's provider.
    assert_eq!(split(&strategy, 1), vec![(LaunchCapacity::Fargate, 1)]);
    assert_eq!(split(&strategy, 0), vec![]);
}

#[test]
fn shares_that_do_not_divide_round_to_the_largest_remainder_first_listed_on_a_tie() {
    // 3 tasks at 1 : 1 -> 1.5 each: whole parts 1 + 1, the one left over to the first listed.
    let even = [item("FARGATE", 0, 1), item("FARGATE_SPOT", 0, 1)];
    assert_eq!(split(&even, 3), vec![(LaunchCapacity::Fargate, 2), (LaunchCapacity::FargateSpot, 1)]);
    // The same strategy listed the other way round gives the extra task to FARGATE_SPOT.
    let reversed = [item("FARGATE_SPOT", 0, 1), item("FARGATE", 0, 1)];
    assert_eq!(split(&reversed, 3), vec![(LaunchCapacity::FargateSpot, 2), (LaunchCapacity::Fargate, 1)]);
    // 4 tasks at 1 : 2 -> 4/3 = 1.33 and 8/3 = 2.67: whole parts 1 + 2, the left-over task to
    // the larger remainder (2/3 against 1/3).
    let one_two = [item("FARGATE", 0, 1), item("FARGATE_SPOT", 0, 2)];
    assert_eq!(split(&one_two, 4), vec![(LaunchCapacity::Fargate, 1), (LaunchCapacity::FargateSpot, 3)]);
    // 10 tasks at 1 : 1 : 1 -> 3.33 each: whole parts 3 + 3 + 3, the tenth to the first.
    let three = [item("FARGATE", 0, 1), item("FARGATE_SPOT", 0, 1), item("asg-a", 0, 1)];
    let got = split(&three, 10);
    assert_eq!(got, vec![(LaunchCapacity::Fargate, 4), (LaunchCapacity::FargateSpot, 3), (LaunchCapacity::Ec2, 3)]);
}

#[test]
fn weightless_providers_take_only_their_base_and_ec2_providers_merge() {
    // base 2 on a FARGATE of weight 0: the 3 tasks beyond it all go to FARGATE_SPOT.
    let base_only = [item("FARGATE", 2, 0), item("FARGATE_SPOT", 0, 1)];
    assert_eq!(split(&base_only, 5), vec![(LaunchCapacity::Fargate, 2), (LaunchCapacity::FargateSpot, 3)]);
    // A single provider of weight 0 (ECS accepts it alone) takes every task.
    assert_eq!(split(&[item("FARGATE", 0, 0)], 4), vec![(LaunchCapacity::Fargate, 4)]);
    // Two Auto Scaling group providers are one capacity as far as the price goes: 3 + 3.
    let groups = [item("asg-a", 0, 1), item("asg-b", 0, 1)];
    assert_eq!(split(&groups, 6), vec![(LaunchCapacity::Ec2, 6)]);
    // No strategy places nothing (such a service has a launch type instead).
    assert_eq!(split(&[], 3), vec![]);
}

#[test]
fn the_counts_always_sum_to_the_tasks() {
    let strategies = [
        vec![item("FARGATE", 1, 1), item("FARGATE_SPOT", 0, 3)],
        vec![item("FARGATE", 0, 7), item("FARGATE_SPOT", 0, 3), item("asg", 0, 5)],
        vec![item("FARGATE", 3, 0), item("FARGATE_SPOT", 0, 1)],
        vec![item("FARGATE_SPOT", 2, 0)],
        vec![item("FARGATE", 0, 1000), item("FARGATE_SPOT", 0, 1)],
    ];
    for strategy in &strategies {
        for tasks in [0, 1, 2, 3, 7, 9, 10, 99, 5000, u32::MAX] {
            let placed: u64 = split(strategy, tasks).iter().map(|(_, n)| u64::from(*n)).sum();
            assert_eq!(placed, u64::from(tasks), "{strategy:?} over {tasks}");
        }
    }
}

// ---- the table and the rates ----

#[test]
fn the_table_has_its_regions_and_says_where_it_comes_from() {
    assert_eq!(table_regions(), vec!["ap-northeast-1", "eu-west-1", "us-east-1"]);
    assert_eq!(
        table_price("ap-northeast-1", Architecture::X86_64),
        Some(FargatePrice { vcpu_hour: 0.05056, gb_hour: 0.00553 })
    );
    assert_eq!(table_price("ap-northeast-3", Architecture::X86_64), None, "no stored source: no row");
    assert!(PRICES_SOURCE.starts_with("https://aws.amazon.com/fargate/pricing"));
    assert!(chrono::NaiveDate::parse_from_str(PRICES_AS_OF, "%Y-%m-%d").is_ok());
    // Graviton is AWS's 20% off x86 in every region of the table.
    for region in table_regions() {
        let x86 = table_price(region, Architecture::X86_64).unwrap();
        let arm = table_price(region, Architecture::Arm64).unwrap();
        assert!((arm.vcpu_hour / x86.vcpu_hour - 0.8).abs() < 0.001, "{region}");
        assert!((arm.gb_hour / x86.gb_hour - 0.8).abs() < 0.001, "{region}");
    }
}

#[test]
fn a_region_the_table_lacks_asks_for_prices_of_ones_own() {
    let e = Pricing::default().rates("ap-northeast-3", Architecture::Arm64).unwrap_err();
    assert_eq!(
        e,
        "no Fargate ARM64 price for region `ap-northeast-3` in the table shipped with ecs-cost-saver (it has ap-northeast-1, eu-west-1, us-east-1): add `pricing.fargate.arm64` with your prices in USD to the schedule file"
    );
    // With prices of its own for that architecture, any region is priced.
    let own = pricing_of("pricing:\n  fargate:\n    arm64: { vcpu_hour: 0.05, gb_hour: 0.005 }\n");
    let rates = own.rates("ap-northeast-3", Architecture::Arm64).unwrap();
    assert_eq!((rates.vcpu_hour, rates.gb_hour, rates.source), (0.05, 0.005, PriceSource::Schedule));
    assert!(own.rates("ap-northeast-3", Architecture::X86_64).is_err(), "x86_64 still comes from the table");
}

// ---- the arithmetic, by hand ----

#[test]
fn three_small_tasks_in_tokyo_for_fourteen_hours() {
    // The issue's case: 3 tasks × 0.25 vCPU / 0.5 GB on FARGATE, ap-northeast-1, x86_64.
    //   vCPU:   3 × 0.25 = 0.75 vCPU × $0.05056 = $0.03792 an hour
    //   memory: 3 × 0.5  = 1.5 GB    × $0.00553 = $0.008295 an hour
    //   total:  $0.03792 + $0.008295 = $0.046215 an hour; × 14 h = $0.64701
    let rates = tokyo(&Pricing::default(), Architecture::X86_64);
    assert_eq!(rates.source, PriceSource::Table);
    let u = usage(&small(Architecture::X86_64), &[(LaunchCapacity::Fargate, 3)], &rates);
    assert_eq!((u.vcpu_per_hour, u.gib_per_hour, u.unpriced_tasks), (0.75, 1.5, 0));
    close(u.cost_per_hour.unwrap(), 0.046215);
    close(u.cost_per_hour.unwrap() * 14.0, 0.64701);
    assert_eq!(u.currency, "USD");
    assert_eq!(
        serde_json::to_string(&u).unwrap(),
        format!(
            r#"{{"vcpu_per_hour":0.75,"gib_per_hour":1.5,"cost_per_hour":{},"currency":"USD"}}"#,
            u.cost_per_hour.unwrap()
        )
    );
    assert_eq!(u.to_string(), "0.75 vCPU, 1.5 GiB, $0.0462/hour");
}

#[test]
fn the_same_tasks_on_graviton() {
    // ARM64 in ap-northeast-1: 0.75 × $0.04045 = $0.0303375; 1.5 × $0.00442 = $0.00663;
    // $0.0369675 an hour, × 14 h = $0.517545 (20% under x86's $0.64701).
    let rates = tokyo(&Pricing::default(), Architecture::Arm64);
    let u = usage(&small(Architecture::Arm64), &[(LaunchCapacity::Fargate, 3)], &rates);
    close(u.cost_per_hour.unwrap(), 0.0369675);
    close(u.cost_per_hour.unwrap() * 14.0, 0.517545);
}

#[test]
fn the_table_converted_to_yen() {
    // usd_rate 150: $0.05056 × 150 = ¥7.584 per vCPU-hour, $0.00553 × 150 = ¥0.8295 per GB-hour;
    // the three tasks: 0.75 × 7.584 + 1.5 × 0.8295 = 5.688 + 1.24425 = ¥6.93225 an hour
    // (= $0.046215 × 150); × 14 h = ¥97.0515, shown as ¥97.
    let pricing = pricing_of("pricing:\n  currency: JPY\n  usd_rate: 150\n");
    let rates = tokyo(&pricing, Architecture::X86_64);
    close(rates.vcpu_hour, 7.584);
    close(rates.gb_hour, 0.8295);
    let u = usage(&small(Architecture::X86_64), &[(LaunchCapacity::Fargate, 3)], &rates);
    close(u.cost_per_hour.unwrap(), 6.93225);
    assert_eq!(u.currency, "JPY");
    assert_eq!(fmt_money(u.cost_per_hour.unwrap() * 14.0, "JPY"), "¥97");
    assert_eq!(u.to_string(), "0.75 vCPU, 1.5 GiB, ¥7/hour");
}

#[test]
fn prices_of_ones_own_replace_the_table() {
    // The issue's example: ¥7.6 per vCPU-hour, ¥0.83 per GB-hour on x86_64, no usd_rate needed
    // since both architectures are given: 0.75 × 7.6 + 1.5 × 0.83 = 5.7 + 1.245 = ¥6.945 an hour.
    let pricing = pricing_of(
        "pricing:\n  currency: JPY\n  fargate:\n    x86_64: { vcpu_hour: 7.6, gb_hour: 0.83 }\n    arm64:  { vcpu_hour: 6.1, gb_hour: 0.67 }\n",
    );
    assert_eq!(pricing.usd_rate(), None);
    let rates = tokyo(&pricing, Architecture::X86_64);
    assert_eq!(rates.source, PriceSource::Schedule);
    let u = usage(&small(Architecture::X86_64), &[(LaunchCapacity::Fargate, 3)], &rates);
    close(u.cost_per_hour.unwrap(), 6.945);
    // ARM64 at ¥6.1 / ¥0.67: 0.75 × 6.1 + 1.5 × 0.67 = 4.575 + 1.005 = ¥5.58 an hour.
    let u = usage(&small(Architecture::Arm64), &[(LaunchCapacity::Fargate, 3)], &tokyo(&pricing, Architecture::Arm64));
    close(u.cost_per_hour.unwrap(), 5.58);
}

#[test]
fn fargate_spot_tasks_cost_the_price_less_the_discount() {
    // One 0.25 vCPU / 0.5 GB task in Tokyo: 0.25 × 0.05056 + 0.5 × 0.00553 = 0.01264 + 0.002765
    // = $0.015405 an hour on FARGATE.
    // The strategy base 1 FARGATE + weight 1 FARGATE / weight 3 FARGATE_SPOT over 9 tasks puts 3
    // on FARGATE and 6 on FARGATE_SPOT. At the default discount 0.7:
    //   3 × 0.015405             = $0.046215
    //   6 × 0.015405 × (1 − 0.7) = $0.027729
    //   total                    = $0.073944 an hour, for 9 × 0.25 = 2.25 vCPU and 4.5 GiB.
    let rates = tokyo(&Pricing::default(), Architecture::X86_64);
    // The three tasks all on FARGATE_SPOT: $0.046215 × (1 − 0.7) = $0.0138645 an hour.
    let spot = usage(&small(Architecture::X86_64), &[(LaunchCapacity::FargateSpot, 3)], &rates);
    close(spot.cost_per_hour.unwrap(), 0.0138645);
    let strategy = [item("FARGATE", 1, 1), item("FARGATE_SPOT", 0, 3)];
    let tasks = split(&strategy, 9);
    assert_eq!(rates.spot_discount, DEFAULT_FARGATE_SPOT_DISCOUNT);
    let u = usage(&small(Architecture::X86_64), &tasks, &rates);
    assert_eq!((u.vcpu_per_hour, u.gib_per_hour), (2.25, 4.5));
    close(u.cost_per_hour.unwrap(), 0.073944);
    // A discount of 0.5 from the file: 6 × 0.015405 × 0.5 = 0.046215; total $0.09243.
    let half = pricing_of("pricing:\n  fargate_spot_discount: 0.5\n");
    close(
        usage(&small(Architecture::X86_64), &tasks, &tokyo(&half, Architecture::X86_64)).cost_per_hour.unwrap(),
        0.09243,
    );
}

#[test]
fn ec2_tasks_count_in_resources_not_in_the_cost() {
    // 2 FARGATE + 2 EC2 tasks of 0.25 vCPU / 0.5 GB: 4 × 0.25 = 1 vCPU, 4 × 0.5 = 2 GiB; the
    // cost is the two Fargate tasks only: 2 × 0.015405 = $0.03081.
    let rates = tokyo(&Pricing::default(), Architecture::X86_64);
    let mixed = usage(&small(Architecture::X86_64), &[(LaunchCapacity::Fargate, 2), (LaunchCapacity::Ec2, 2)], &rates);
    assert_eq!((mixed.vcpu_per_hour, mixed.gib_per_hour, mixed.unpriced_tasks), (1.0, 2.0, 2));
    close(mixed.cost_per_hour.unwrap(), 0.03081);
    assert_eq!(
        mixed.note().unwrap(),
        "2 task(s) on EC2 capacity not priced: their instances cost, which task prices do not model"
    );
    assert!(serde_json::to_string(&mixed).unwrap().ends_with(r#""currency":"USD","unpriced_tasks":2}"#));
    // Only EC2 tasks: nothing was priced, so there is no cost to show rather than a cost of 0.
    let ec2 = usage(&small(Architecture::X86_64), &[(LaunchCapacity::Ec2, 3)], &rates);
    assert_eq!((ec2.cost_per_hour, ec2.unpriced_tasks), (None, 3));
    assert_eq!(ec2.to_string(), "0.75 vCPU, 1.5 GiB (3 EC2 task(s) not priced)");
    // No task at all costs nothing.
    assert_eq!(usage(&small(Architecture::X86_64), &[], &rates).cost_per_hour, Some(0.0));
}

#[test]
fn usages_add_up_across_services() {
    // api: the three Tokyo tasks ($0.046215); worker: 2 EC2 tasks of 1 vCPU / 2 GiB (unpriced);
    // batch: 1 ARM64 task of 0.25 / 0.5 (0.25 × 0.04045 + 0.5 × 0.00442 = $0.0123225).
    // Sum: 0.75 + 2 + 0.25 = 3 vCPU; 1.5 + 4 + 0.5 = 6 GiB; $0.046215 + $0.0123225 = $0.0585375.
    let pricing = Pricing::default();
    let services = [
        usage(&small(Architecture::X86_64), &[(LaunchCapacity::Fargate, 3)], &tokyo(&pricing, Architecture::X86_64)),
        usage(
            &TaskSize::from_units(1024, 2048, Architecture::X86_64),
            &[(LaunchCapacity::Ec2, 2)],
            &tokyo(&pricing, Architecture::X86_64),
        ),
        usage(&small(Architecture::Arm64), &[(LaunchCapacity::Fargate, 1)], &tokyo(&pricing, Architecture::Arm64)),
    ];
    let total: Usage = services.iter().cloned().sum();
    assert_eq!((total.vcpu_per_hour, total.gib_per_hour, total.unpriced_tasks), (3.0, 6.0, 2));
    close(total.cost_per_hour.unwrap(), 0.0585375);
    assert_eq!(total.currency, "USD");
    let by_hand = services[0].clone() + services[1].clone() + services[2].clone();
    assert_eq!(by_hand, total);
    assert_eq!(std::iter::empty::<Usage>().sum::<Usage>().cost_per_hour, None, "nothing summed, nothing priced");
}

#[test]
fn a_month_of_a_schedule() {
    // staging up 08:00-22:00 on weekdays: 14 h × 5 = 70 of 168 hours, down 98/168 of the week.
    // At $0.046215 an hour when up: $0.046215 × 730 h = $33.73695 a month always on;
    // × 98/168 = $19.6799... saved a month.
    close(monthly(0.046215, 98.0 / 168.0), 0.046215 * 730.0 * 98.0 / 168.0);
    close(monthly(0.046215, 98.0 / 168.0), 19.679887500);
    close(monthly(0.046215, 1.0), 33.73695);
    assert_eq!(monthly(0.046215, 0.0), 0.0);
    assert_eq!(fmt_money(monthly(0.046215, 98.0 / 168.0), "USD"), "$19.68");
    // In yen at usd_rate 150: $19.6798875 × 150 = ¥2,951.98, shown as ¥2,952.
    assert_eq!(fmt_money(monthly(0.046215 * 150.0, 98.0 / 168.0), "JPY"), "¥2,952");
}

#[test]
fn money_is_shown_readably() {
    assert_eq!(fmt_money(0.046215, "USD"), "$0.0462");
    assert_eq!(fmt_money(0.0, "USD"), "$0.0000");
    assert_eq!(fmt_money(19.6798875, "USD"), "$19.68");
    assert_eq!(fmt_money(1234567.891, "USD"), "$1,234,567.89");
    assert_eq!(fmt_money(-2.5, "USD"), "-$2.50");
    assert_eq!(fmt_money(6.93225, "JPY"), "¥7");
    assert_eq!(fmt_money(2952.0, "JPY"), "¥2,952");
    assert_eq!(fmt_money(1234567.4, "JPY"), "¥1,234,567");
    assert_eq!(fmt_money(0.2, "JPY"), "<¥1");
    assert_eq!(fmt_money(0.0, "JPY"), "¥0");
    assert_eq!(fmt_money(0.0462, "EUR"), "0.0462 EUR");
    assert_eq!(fmt_money(1500.0, "EUR"), "1,500.00 EUR");
}

// ---- the schedule's `pricing:` ----

#[test]
fn no_pricing_key_is_usd_at_the_table() {
    let p = pricing_of("");
    assert_eq!(p, Pricing::default());
    assert_eq!(p.currency().as_str(), "USD");
    assert_eq!(p.fargate_spot_discount(), 0.7);
    assert_eq!(p.own_prices(), OwnPrices::default());
    assert_eq!(pricing_of("pricing: {}\n"), Pricing::default());
}

#[test]
fn an_unknown_pricing_key_names_its_place() {
    assert_eq!(
        problems("pricing:\n  currency: JPY\n  usd_rat: 150\n"),
        vec!["s.yaml:3:3: unknown field `usd_rat`, expected one of currency, usd_rate, fargate_spot_discount, fargate"]
    );
    assert_eq!(
        problems("pricing:\n  fargate:\n    x86: { vcpu_hour: 1, gb_hour: 1 }\n"),
        vec!["s.yaml:3:5: unknown field `x86`, expected one of x86_64, arm64"]
    );
    assert_eq!(
        problems("pricing:\n  fargate:\n    arm64: { vcpu_hour: 1, gb_hours: 1 }\n"),
        vec!["s.yaml:3:28: unknown field `gb_hours`, expected one of vcpu_hour, gb_hour"]
    );
}

#[test]
fn every_bad_pricing_value_is_reported_at_its_place() {
    let yaml = "\
pricing:
  currency: yen
  usd_rate: 0
  fargate_spot_discount: 1
  fargate:
    x86_64: { vcpu_hour: -7.6, gb_hour: 0.83 }
    arm64: { vcpu_hour: 6.1, gb_hour: .nan }
";
    assert_eq!(
        problems(yaml),
        vec![
            "s.yaml:2:13: `yen` is not an ISO 4217 currency code: write its three capital letters, e.g. JPY or USD",
            "s.yaml:3:13: `usd_rate` is how many units of `currency` one USD buys (e.g. 150 for JPY): a positive number, not 0",
            "s.yaml:4:26: `fargate_spot_discount` is the fraction off Fargate's price that FARGATE_SPOT tasks get: at least 0 and less than 1 (0.7 is 70% off), not 1",
            "s.yaml:6:26: `vcpu_hour` is a price in units of `currency` per vCPU-hour: 0 or more, not -7.6",
            "s.yaml:7:39: `gb_hour` is a price in units of `currency` per GB-hour: 0 or more, not NaN",
        ]
    );
}

#[test]
fn a_code_that_is_not_one_is_the_only_problem_of_its_rate() {
    assert_eq!(
        problems("pricing:\n  currency: Yen\n  usd_rate: 150\n"),
        vec!["s.yaml:2:13: `Yen` is not an ISO 4217 currency code: write its three capital letters, e.g. JPY or USD"]
    );
}

#[test]
fn a_negative_rate_names_the_currency() {
    assert_eq!(
        problems("pricing:\n  currency: JPY\n  usd_rate: -150\n"),
        vec!["s.yaml:3:13: `usd_rate` is how many JPY one USD buys (e.g. 150 for JPY): a positive number, not -150"]
    );
    assert_eq!(
        problems(
            "pricing:\n  currency: JPY\n  usd_rate: 150\n  fargate:\n    x86_64: { vcpu_hour: 7.6, gb_hour: -0.83 }\n"
        ),
        vec!["s.yaml:5:40: `gb_hour` is a price in JPY per GB-hour: 0 or more, not -0.83"]
    );
}

#[test]
fn a_discount_of_one_or_more_is_refused() {
    for (discount, shown) in [("1", "1"), ("1.5", "1.5"), ("-0.1", "-0.1")] {
        assert_eq!(
            problems(&format!("pricing:\n  fargate_spot_discount: {discount}\n")),
            vec![format!(
                "s.yaml:2:26: `fargate_spot_discount` is the fraction off Fargate's price that FARGATE_SPOT tasks get: at least 0 and less than 1 (0.7 is 70% off), not {shown}"
            )]
        );
    }
    assert_eq!(pricing_of("pricing:\n  fargate_spot_discount: 0\n").fargate_spot_discount(), 0.0);
    assert_eq!(pricing_of("pricing:\n  fargate_spot_discount: 0.65\n").fargate_spot_discount(), 0.65);
}

#[test]
fn a_currency_other_than_usd_needs_a_rate_unless_every_price_is_its_own() {
    let message = "s.yaml:2:13: currency JPY needs `usd_rate` (JPY per USD) to convert the price table's USD prices, or prices of your own for both `fargate.x86_64` and `fargate.arm64`";
    assert_eq!(problems("pricing:\n  currency: JPY\n"), vec![message]);
    // Problems come in the order of the file, this one (found last) first.
    assert_eq!(
        problems("pricing:\n  currency: JPY\n  fargate_spot_discount: 1.2\n"),
        vec![
            message.to_string(),
            "s.yaml:3:26: `fargate_spot_discount` is the fraction off Fargate's price that FARGATE_SPOT tasks get: at least 0 and less than 1 (0.7 is 70% off), not 1.2".to_string(),
        ]
    );
    // Prices for one architecture leave the other to the table, which needs the rate.
    assert_eq!(
        problems("pricing:\n  currency: JPY\n  fargate:\n    x86_64: { vcpu_hour: 7.6, gb_hour: 0.83 }\n"),
        vec![message]
    );
    // A rate with USD is refused rather than silently ignored.
    assert_eq!(
        problems("pricing:\n  usd_rate: 150\n"),
        vec![
            "s.yaml:2:13: `usd_rate` converts the price table's USD into `currency`: with USD (the default currency) leave it out"
        ]
    );
    assert_eq!(
        problems("pricing:\n  currency: USD\n  usd_rate: -1\n"),
        vec![
            "s.yaml:3:13: `usd_rate` converts the price table's USD into `currency`: with USD (the default currency) leave it out"
        ]
    );
    assert_eq!(pricing_of("pricing:\n  currency: USD\n  usd_rate: 1\n").usd_rate(), Some(1.0));
    // Prices of one's own in USD, the default currency, need no rate.
    let usd = pricing_of("pricing:\n  fargate:\n    x86_64: { vcpu_hour: 0.04, gb_hour: 0.004 }\n");
    assert_eq!(usd.own_prices().x86_64, Some(FargatePrice { vcpu_hour: 0.04, gb_hour: 0.004 }));
}

#[test]
fn a_value_of_the_wrong_shape_stops_at_its_place() {
    assert_eq!(problems("pricing:\n  usd_rate: lots\n"), vec!["s.yaml:2:13: invalid floating point"]);
    assert_eq!(
        problems("pricing:\n  fargate:\n    x86_64: { vcpu_hour: 7.6 }\n"),
        vec!["s.yaml:3:15: missing field `gb_hour`"]
    );
}

/// The commented `pricing:` in the example file, uncommented, is a valid one and reads as it says.
#[test]
fn the_examples_commented_pricing_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schedules/example.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut uncommented, mut inside) = (String::new(), false);
    for line in text.lines() {
        inside = line == "# pricing:" || (inside && line.starts_with("#   "));
        uncommented.push_str(if inside { &line[2..] } else { line });
        uncommented.push('\n');
    }
    assert!(uncommented.contains("\npricing:\n"), "the example has a commented `pricing:`");
    let pricing = Schedule::parse(&uncommented, "example.yaml").unwrap_or_else(|e| panic!("{e}")).pricing;
    assert_eq!(pricing.currency().as_str(), "JPY");
    assert_eq!((pricing.usd_rate(), pricing.fargate_spot_discount()), (Some(150.0), 0.7));
    assert_eq!(pricing.own_prices().x86_64, Some(FargatePrice { vcpu_hour: 7.6, gb_hour: 0.83 }));
    assert_eq!(pricing.own_prices().arm64, Some(FargatePrice { vcpu_hour: 6.1, gb_hour: 0.67 }));
}

/// The files the project ships and tests with still read as they did: the valid ones validate
/// with the default pricing, the invalid ones fail for reasons that are not about `pricing:`.
#[test]
fn the_example_and_every_fixture_still_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = Schedule::load(&root.join("schedules/example.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(example.pricing, Pricing::default());
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(root.join("tests/fixtures/schedules"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 8, "{fixtures:?}");
    let mut valid = 0;
    for path in &fixtures {
        match Schedule::load(path) {
            Ok(schedule) => {
                valid += 1;
                assert_eq!(schedule.pricing, Pricing::default(), "{}", path.display());
            }
            Err(e) => assert!(e.problems.iter().all(|p| !p.message.contains("pricing")), "{e}"),
        }
    }
    assert!(valid >= 1, "selectors.yaml is valid");
}
