//! The schedule file (README, "The schedule file"): the YAML model, validated while it is read, every problem
//! reported as `FILE:LINE:COL: message`. Pure: no AWS, no clock.

pub mod cron;
pub mod eval;
mod place;
mod pricing;
mod yaml_error;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::pricing::Pricing;
use crate::text::escaped;

pub use cron::Cron;
pub use place::{Account, Place, is_region, role_account};

/// A validated schedule file.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub timezone: Tz,
    pub holidays: Holidays,
    pub environments: BTreeMap<String, Environment>,
    /// `pricing:`: the currency and prices savings are shown in (default: USD at the price
    /// table shipped with the binary).
    pub pricing: Pricing,
    /// `accounts:`: the target accounts and the role to assume in each, by name.
    pub accounts: BTreeMap<String, Account>,
}

#[derive(Debug, Clone, Default)]
pub struct Holidays {
    pub calendar: Option<HolidayCalendar>,
    pub dates: BTreeSet<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayCalendar {
    Japan,
}

/// One environment: the services stopped and started together, and when.
#[derive(Debug, Clone)]
pub struct Environment {
    pub name: String,
    /// `account` / `region`: where its services live unless an entry names its own, and where its
    /// `capacity` groups are.
    pub place: Place,
    pub stop: Vec<Cron>,
    pub start: Vec<Cron>,
    /// When to bring the environment back to the state its `stop`/`start` crons say (a service
    /// woken at night by someone's deploy is stopped again).
    pub reconcile: Vec<Cron>,
    /// The services listed by name (`{cluster, service}` entries), in file order.
    pub services: Vec<ServiceConfig>,
    /// The `select` entries: services chosen when the function runs (README, "Selectors").
    pub selectors: Vec<Selector>,
    /// `start_order`: groups of service names (or `cluster/service`), started one group after
    /// another and stopped in reverse; empty: every service at once.
    pub start_order: Vec<Vec<String>>,
    /// `capacity`: the EC2 Auto Scaling groups the environment owns, scaled in after its
    /// services are stopped and out before they start (README, "EC2-backed environments").
    pub capacity: Vec<GroupConfig>,
}

/// A `capacity` entry: an Auto Scaling group, and the sizes a start gives it when it has no
/// snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    pub name: String,
    pub min: Option<u32>,
    pub desired: Option<u32>,
    pub max: Option<u32>,
}

/// A `services:` entry that chooses services of a cluster when the function runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub place: Place,
    pub cluster: String,
    pub select: Select,
    /// Service names left out.
    pub except: Vec<String>,
    /// `services[INDEX], line N`: the entry, as reports name it.
    pub entry: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    /// Every service of the cluster.
    All,
    /// The services carrying every one of these tags (key, value).
    Tags(BTreeMap<String, String>),
}

impl Environment {
    /// The places this environment has something in (a service, a selector, its `capacity`
    /// groups), its own first, each once.
    pub fn places(&self) -> Vec<&Place> {
        let mut places: Vec<&Place> = vec![&self.place];
        for place in self.services.iter().map(|s| &s.id.place).chain(self.selectors.iter().map(|s| &s.place)) {
            if !places.contains(&place) {
                places.push(place);
            }
        }
        let own_used = !self.capacity.is_empty()
            || self.services.iter().any(|s| s.id.place == self.place)
            || self.selectors.iter().any(|s| s.place == self.place);
        if !own_used {
            places.remove(0);
        }
        places
    }
}

impl Selector {
    /// Whether this selector chooses among the services of `cluster` at `place`.
    pub fn is_on(&self, place: &Place, cluster: &str) -> bool {
        &self.place == place && self.cluster == cluster
    }

    /// Whether the service `name` with `tags` is chosen by this selector.
    pub fn selects(&self, name: &str, tags: &BTreeMap<String, String>) -> bool {
        !self.except.iter().any(|e| e == name)
            && match &self.select {
                Select::All => true,
                Select::Tags(wanted) => wanted.iter().all(|(k, v)| tags.get(k) == Some(v)),
            }
    }

    /// Whether choosing needs the services' tags (not only their names).
    pub fn needs_tags(&self) -> bool {
        matches!(self.select, Select::Tags(_))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}: select ", self.entry, self.cluster)?;
        match &self.select {
            Select::All => f.write_str("all")?,
            Select::Tags(tags) => {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "tags {}", tags.join(","))?;
            }
        }
        if !self.except.is_empty() {
            write!(f, " except {}", self.except.join(","))?;
        }
        f.write_str(")")
    }
}

/// An ECS service: (account, region, cluster, service), everywhere a service is named (the
/// report, duplicates, the warm container's memory).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ServiceRef {
    #[serde(flatten)]
    pub place: Place,
    pub cluster: String,
    pub service: String,
}

impl ServiceRef {
    /// A service of the function's own account and region.
    pub fn new(cluster: impl Into<String>, service: impl Into<String>) -> ServiceRef {
        ServiceRef { place: Place::default(), cluster: cluster.into(), service: service.into() }
    }

    pub fn at(place: &Place, cluster: impl Into<String>, service: impl Into<String>) -> ServiceRef {
        ServiceRef { place: place.clone(), cluster: cluster.into(), service: service.into() }
    }
}

/// `cluster/service`, after `ACCOUNT/REGION/` away from the function's own account and region.
impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}/{}", self.place.prefix(), self.cluster, self.service)
    }
}

#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub id: ServiceRef,
    /// Used on start only when no snapshot exists.
    pub desired_count: Option<u32>,
    pub min_capacity: Option<u32>,
    pub max_capacity: Option<u32>,
    /// Target groups the ECS service itself does not know about.
    pub target_groups: Vec<ExtraTargetGroup>,
    /// The selector entry that chose the service when the function ran ([`Selector::entry`]);
    /// None for a service the file lists by name.
    pub selected_by: Option<String>,
}

impl ServiceConfig {
    /// A service a selector chose: no settings of its own (start falls back to 1 task).
    pub fn selected(id: ServiceRef, selector: &Selector) -> ServiceConfig {
        ServiceConfig {
            id,
            desired_count: None,
            min_capacity: None,
            max_capacity: None,
            target_groups: Vec::new(),
            selected_by: Some(selector.entry.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraTargetGroup {
    pub arn: String,
    pub container: String,
    pub port: u16,
}

impl Schedule {
    /// Read and validate a schedule file.
    pub fn load(path: &Path) -> Result<Schedule, ScheduleError> {
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| ScheduleError {
            file: file.clone(),
            problems: vec![Problem { line: 0, column: 0, message: format!("cannot read the schedule file: {e}") }],
        })?;
        Schedule::parse(&source, &file)
    }

    /// Validate schedule text; `file` only names the source in errors.
    pub fn parse(source: &str, file: &str) -> Result<Schedule, ScheduleError> {
        let fail = |problems| ScheduleError { file: file.to_string(), problems };
        let raw: RawSchedule =
            serde_saphyr::from_str(source).map_err(|e| fail(vec![yaml_error::problem(source, &e)]))?;
        validate(raw).map_err(fail)
    }

    pub fn environment_names(&self) -> Vec<&str> {
        self.environments.keys().map(String::as_str).collect()
    }

    /// The file as the function in `region` reads it: a `region` that names the function's own
    /// is the same as naming none (one service, one set of clients and buckets). Called once,
    /// when the region is known; a service the file then lists twice is claimed by two
    /// environments and left alone by both (`plan::select`).
    pub fn in_region(mut self, region: Option<&str>) -> Schedule {
        let Some(region) = region else { return self };
        let settle = |place: &mut Place| {
            if place.region.as_deref() == Some(region) {
                place.region = None;
            }
        };
        for env in self.environments.values_mut() {
            settle(&mut env.place);
            env.services.iter_mut().for_each(|s| settle(&mut s.id.place));
            env.selectors.iter_mut().for_each(|s| settle(&mut s.place));
        }
        self
    }

    /// The `accounts` entry of an account id.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.values().find(|a| a.id == id)
    }

    /// Every place the file's services, selectors and groups live.
    pub fn places(&self) -> BTreeSet<Place> {
        let mut places = BTreeSet::new();
        for env in self.environments.values() {
            places.insert(env.place.clone());
            places.extend(env.places().into_iter().cloned());
        }
        places
    }

    /// The place of the file that an event from `account` in `region` concerns, None when the file
    /// has nothing there. `home` is the function's own account and region, each when known: an
    /// account that is not in `accounts` is the function's own when its own is not known (the CLI).
    pub fn place_of(&self, account: &str, region: &str, home: &Place) -> Option<Place> {
        let account = if self.account(account).is_some() {
            Some(account.to_string())
        } else if home.account.as_deref().is_none_or(|own| own == account) {
            None
        } else {
            return None;
        };
        let places = self.places();
        let named = Place { account: account.clone(), region: Some(region.to_string()) };
        let own_region = Place { account, region: None };
        if places.contains(&named) {
            Some(named)
        } else if home.region.as_deref().is_none_or(|own| own == region) && places.contains(&own_region) {
            Some(own_region)
        } else {
            None
        }
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl std::error::Error for ScheduleError {}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line == 0 {
                write!(f, "{}: {}", self.file, p.message)?;
            } else {
                write!(f, "{}:{}:{}: {}", self.file, p.line, p.column, p.message)?;
            }
        }
        Ok(())
    }
}

/// One problem at a place in the file (line and column from 1; 0 when it concerns the file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl Problem {
    fn at<T>(spanned: &Spanned<T>, message: impl Into<String>) -> Problem {
        Problem { line: spanned.referenced.line(), column: spanned.referenced.column(), message: message.into() }
    }
}

/// The parser's message without the position it already prefixes (we print our own).
fn yaml_message(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or(rendered).trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    let first = match first.strip_prefix("line ") {
        Some(rest) => rest.split_once(": ").map(|(_, msg)| msg).unwrap_or(rest),
        None => first,
    };
    let first = first.split(" at line ").next().unwrap_or(first);
    if first == "unexpected end of input" {
        "the file is empty: expected a mapping with `environments`".to_string()
    } else {
        first.to_string()
    }
}

// ---- raw shape, exactly as written, with positions ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    timezone: Option<Spanned<String>>,
    accounts: Option<Ordered<place::RawAccount>>,
    holidays: Option<RawHolidays>,
    pricing: Option<Spanned<pricing::RawPricing>>,
    environments: Spanned<Ordered<RawEnvironment>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHolidays {
    calendar: Option<Spanned<String>>,
    #[serde(default)]
    dates: Vec<Spanned<String>>,
}

/// A mapping in file order (environments, accounts), keys with their positions.
struct Ordered<T>(Vec<(Spanned<String>, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Ordered<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Entries<T> {
            type Value = Ordered<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of names to entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        d.deserialize_map(Entries(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvironment {
    account: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
    #[serde(default)]
    stop: Vec<Spanned<String>>,
    #[serde(default)]
    start: Vec<Spanned<String>>,
    #[serde(default)]
    reconcile: Vec<Spanned<String>>,
    services: Spanned<Vec<RawService>>,
    start_order: Option<RawOrder>,
    #[serde(default)]
    capacity: Vec<RawGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    autoscaling_group: Spanned<String>,
    min: Option<Spanned<u32>>,
    desired: Option<Spanned<u32>>,
    max: Option<Spanned<u32>>,
}

/// `start_order: [[NAME, ...], ...]`, every part with its place.
type RawOrder = Spanned<Vec<Spanned<Vec<Spanned<String>>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    cluster: Spanned<String>,
    service: Option<Spanned<String>>,
    select: Option<Spanned<RawSelect>>,
    #[serde(default)]
    except: Vec<Spanned<String>>,
    desired_count: Option<Spanned<u32>>,
    min_capacity: Option<Spanned<u32>>,
    max_capacity: Option<Spanned<u32>>,
    #[serde(default)]
    target_groups: Vec<RawTargetGroup>,
    account: Option<Spanned<String>>,
    region: Option<Spanned<String>>,
}

/// `select: all` or `select: { tags: { KEY: VALUE, … } }`.
enum RawSelect {
    All,
    Tags(BTreeMap<String, String>),
}

const SELECT_FORMS: &str = "`select` takes `all` or `{ tags: { KEY: VALUE, ... } }`";

impl<'de> Deserialize<'de> for RawSelect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        struct Forms;
        impl<'de> serde::de::Visitor<'de> for Forms {
            type Value = RawSelect;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SELECT_FORMS)
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<RawSelect, E> {
                match v {
                    "all" => Ok(RawSelect::All),
                    other => Err(E::custom(format!("{SELECT_FORMS}, not `{}`", escaped(other)))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawSelect, A::Error> {
                let mut tags = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key != "tags" || tags.is_some() {
                        return Err(A::Error::custom(format!(
                            "{SELECT_FORMS}: `{}` is not expected here",
                            escaped(&key)
                        )));
                    }
                    tags = Some(map.next_value::<BTreeMap<String, String>>()?);
                }
                match tags {
                    Some(tags) if !tags.is_empty() => Ok(RawSelect::Tags(tags)),
                    _ => Err(A::Error::custom(format!("{SELECT_FORMS}: name at least one tag"))),
                }
            }
        }
        d.deserialize_any(Forms)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargetGroup {
    arn: Spanned<String>,
    container: Spanned<String>,
    port: Spanned<u16>,
}

// ---- validation: collect every problem, build the model only when there are none ----

/// ECS allows up to 5,000 tasks per service; a larger count is a typo.
const MAX_TASKS: u32 = 5000;

fn validate(raw: RawSchedule) -> Result<Schedule, Vec<Problem>> {
    let mut problems = Vec::new();

    let timezone = match &raw.timezone {
        None => chrono_tz::Asia::Tokyo,
        Some(tz) => tz.value.parse::<Tz>().unwrap_or_else(|_| {
            problems.push(Problem::at(
                tz,
                format!("unknown time zone `{}`: use an IANA name such as Asia/Tokyo", escaped(&tz.value)),
            ));
            chrono_tz::Asia::Tokyo
        }),
    };

    let mut holidays = Holidays::default();
    if let Some(h) = &raw.holidays {
        if let Some(cal) = &h.calendar {
            match cal.value.as_str() {
                "japan" => holidays.calendar = Some(HolidayCalendar::Japan),
                other => problems.push(Problem::at(
                    cal,
                    format!("unknown holiday calendar `{}`: the supported calendar is `japan`", escaped(other)),
                )),
            }
        }
        for d in &h.dates {
            match NaiveDate::parse_from_str(&d.value, "%Y-%m-%d") {
                Ok(date) if d.value.len() == 10 => {
                    holidays.dates.insert(date);
                }
                _ => problems.push(Problem::at(
                    d,
                    format!("`{}` is not a date: write YYYY-MM-DD, e.g. 2026-12-29", escaped(&d.value)),
                )),
            }
        }
    }

    let pricing = pricing::pricing(raw.pricing.as_ref(), &mut problems);
    let accounts = place::accounts(raw.accounts.as_ref(), &mut problems);

    if raw.environments.value.0.is_empty() {
        problems.push(Problem::at(&raw.environments, "no environments: add at least one under `environments`"));
    }

    let mut environments = BTreeMap::new();
    // Where each service was first listed, to point at duplicates.
    let mut seen: HashMap<ServiceRef, (String, u64)> = HashMap::new();
    // Where each Auto Scaling group (of an account and region) was first listed.
    let mut groups_seen: HashMap<(Place, String), (String, u64)> = HashMap::new();
    for (name, env) in &raw.environments.value.0 {
        if !is_environment_name(&name.value) {
            problems.push(Problem::at(
                name,
                format!("environment name `{}` must be 1-32 characters of a-z, 0-9 and -", escaped(&name.value)),
            ));
        }
        let env_place = place::place(
            &place::RawPlace { account: env.account.as_ref(), region: env.region.as_ref() },
            &Place::default(),
            &accounts,
            &mut problems,
        );
        let stop = crons(&env.stop, &mut problems);
        let start = crons(&env.start, &mut problems);
        let reconcile = crons(&env.reconcile, &mut problems);
        if !env.reconcile.is_empty() && env.stop.is_empty() && env.start.is_empty() {
            problems.push(Problem::at(
                &env.reconcile[0],
                format!(
                    "environment `{}` has `reconcile` but no `stop` or `start` crons: there is no state to reconcile to",
                    escaped(&name.value)
                ),
            ));
        }
        if env.services.value.is_empty() {
            problems
                .push(Problem::at(&env.services, format!("environment `{}` lists no services", escaped(&name.value))));
        }
        let mut services = Vec::new();
        let mut selectors = Vec::new();
        for (index, s) in env.services.value.iter().enumerate() {
            let raw_place = place::RawPlace { account: s.account.as_ref(), region: s.region.as_ref() };
            let entry_place = place::place(&raw_place, &env_place, &accounts, &mut problems);
            match (&s.service, &s.select) {
                (Some(service), None) => {
                    let id = ServiceRef::at(&entry_place, s.cluster.value.clone(), service.value.clone());
                    match seen.get(&id) {
                        Some((other_env, line)) => problems.push(Problem::at(
                            service,
                            format!(
                                "service {} is already listed in environment `{}` (line {line}); a service belongs to one environment only",
                                escaped(&id.to_string()),
                                escaped(other_env)
                            ),
                        )),
                        None => {
                            seen.insert(id, (name.value.clone(), service.referenced.line()));
                        }
                    }
                    services.extend(service_config(s, service, &entry_place, &mut problems));
                }
                (None, Some(select)) => selectors.extend(selector(s, select, index, &entry_place, &mut problems)),
                (Some(service), Some(_)) => problems.push(Problem::at(
                    service,
                    "an entry has either `service` (one service) or `select` (services chosen when the function runs), not both",
                )),
                (None, None) => problems.push(Problem::at(
                    &s.cluster,
                    "this entry needs `service: NAME`, or `select: all` / `select: { tags: {...} }` to choose the cluster's services",
                )),
            }
        }
        let start_order = start_order(env.start_order.as_ref(), &services, !selectors.is_empty(), &mut problems);
        let capacity = env
            .capacity
            .iter()
            .filter_map(|g| group(g, &name.value, &env_place, &mut groups_seen, &mut problems))
            .collect();
        environments.insert(
            name.value.clone(),
            Environment {
                name: name.value.clone(),
                place: env_place,
                stop,
                start,
                reconcile,
                services,
                selectors,
                start_order,
                capacity,
            },
        );
    }

    if problems.is_empty() {
        Ok(Schedule { timezone, holidays, environments, pricing, accounts })
    } else {
        Err(problems)
    }
}

fn crons(raw: &[Spanned<String>], problems: &mut Vec<Problem>) -> Vec<Cron> {
    raw.iter()
        .filter_map(|c| match c.value.parse::<Cron>() {
            Ok(cron) => Some(cron),
            Err(e) => {
                problems.push(Problem::at(c, format!("{}: {e}", escaped(&c.value))));
                None
            }
        })
        .collect()
}

/// A `select` entry: only the cluster, the selection and `except` (per-service settings need an
/// entry of the service's own).
fn selector(
    s: &RawService,
    select: &Spanned<RawSelect>,
    index: usize,
    place: &Place,
    problems: &mut Vec<Problem>,
) -> Option<Selector> {
    let before = problems.len();
    check_ecs_name("cluster", &s.cluster, problems);
    for e in &s.except {
        if !is_ecs_name(&e.value) {
            problems.push(Problem::at(
                e,
                format!("`except` takes service names; `{}` is not an ECS service name", escaped(&e.value)),
            ));
        }
    }
    let settings = [
        s.desired_count.as_ref().map(|c| ("desired_count", c.referenced)),
        s.min_capacity.as_ref().map(|c| ("min_capacity", c.referenced)),
        s.max_capacity.as_ref().map(|c| ("max_capacity", c.referenced)),
    ];
    for (key, at) in settings.into_iter().flatten() {
        problems.push(Problem {
            line: at.line(),
            column: at.column(),
            message: format!(
                "`{key}` is a setting of one service: list the service by name (`service: NAME`, which wins over the selector) to give it one"
            ),
        });
    }
    if let Some(tg) = s.target_groups.first() {
        problems.push(Problem::at(
            &tg.arn,
            "`target_groups` belong to one service: list the service by name (`service: NAME`) to give it extra target groups",
        ));
    }
    let select = match &select.value {
        RawSelect::All => Select::All,
        RawSelect::Tags(tags) => Select::Tags(tags.clone()),
    };
    (problems.len() == before).then(|| Selector {
        place: place.clone(),
        cluster: s.cluster.value.clone(),
        select,
        except: s.except.iter().map(|e| e.value.clone()).collect(),
        entry: format!("services[{index}], line {}", s.cluster.referenced.line()),
    })
}

/// `start_order`: non-empty groups of service names or `cluster/service`, each once. Without
/// selectors every name must be one of the listed services.
fn start_order(
    raw: Option<&RawOrder>,
    services: &[ServiceConfig],
    selects: bool,
    problems: &mut Vec<Problem>,
) -> Vec<Vec<String>> {
    let Some(raw) = raw else { return Vec::new() };
    if raw.value.is_empty() {
        problems.push(Problem::at(
            raw,
            "`start_order` is empty: list groups of service names, e.g. [[migrate], [api, worker], [web]]",
        ));
    }
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let mut groups = Vec::new();
    for group in &raw.value {
        if group.value.is_empty() {
            problems.push(Problem::at(group, "a `start_order` group is empty: name at least one service"));
        }
        for name in &group.value {
            let valid = match name.value.split_once('/') {
                Some((cluster, service)) => is_ecs_name(cluster) && is_ecs_name(service),
                None => is_ecs_name(&name.value),
            };
            if !valid {
                problems.push(Problem::at(
                    name,
                    format!("`{}` is not a service name or CLUSTER/SERVICE", escaped(&name.value)),
                ));
                continue;
            }
            if let Some(line) = seen.insert(&name.value, name.referenced.line()) {
                problems.push(Problem::at(
                    name,
                    format!(
                        "`{}` is already in a `start_order` group (line {line}): a service starts once",
                        escaped(&name.value)
                    ),
                ));
            }
            if !selects && !services.iter().any(|s| order_names(&name.value, &s.id)) {
                problems.push(Problem::at(
                    name,
                    format!(
                        "`start_order` names `{}`, which is not a service of this environment",
                        escaped(&name.value)
                    ),
                ));
            }
        }
        groups.push(group.value.iter().map(|n| n.value.clone()).collect());
    }
    groups
}

/// Whether a `start_order` name (`service` or `cluster/service`) is the service `id`.
pub fn order_names(name: &str, id: &ServiceRef) -> bool {
    match name.split_once('/') {
        Some((cluster, service)) => cluster == id.cluster && service == id.service,
        None => name == id.service,
    }
}

fn service_config(
    s: &RawService,
    service: &Spanned<String>,
    place: &Place,
    problems: &mut Vec<Problem>,
) -> Option<ServiceConfig> {
    let before = problems.len();
    if !s.except.is_empty() {
        problems.push(Problem::at(&s.except[0], "`except` belongs to a `select` entry, not to one service"));
    }
    check_ecs_name("cluster", &s.cluster, problems);
    check_ecs_name("service", service, problems);
    for count in [&s.desired_count, &s.min_capacity, &s.max_capacity].into_iter().flatten() {
        if count.value > MAX_TASKS {
            problems
                .push(Problem::at(count, format!("{} is more than ECS's {MAX_TASKS} tasks per service", count.value)));
        }
    }
    if let (Some(min), Some(max)) = (&s.min_capacity, &s.max_capacity)
        && min.value > max.value
    {
        problems
            .push(Problem::at(min, format!("min_capacity {} is greater than max_capacity {}", min.value, max.value)));
    }
    let mut target_groups = Vec::new();
    for tg in &s.target_groups {
        if !is_target_group_arn(&tg.arn.value) {
            problems.push(Problem::at(
                &tg.arn,
                format!(
                    "`{}` is not a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)",
                    escaped(&tg.arn.value)
                ),
            ));
        }
        if tg.container.value.is_empty() {
            problems.push(Problem::at(&tg.container, "container name is empty"));
        }
        if tg.port.value == 0 {
            problems.push(Problem::at(&tg.port, "port must be 1-65535"));
        }
        target_groups.push(ExtraTargetGroup {
            arn: tg.arn.value.clone(),
            container: tg.container.value.clone(),
            port: tg.port.value,
        });
    }
    (problems.len() == before).then(|| ServiceConfig {
        id: ServiceRef::at(place, s.cluster.value.clone(), service.value.clone()),
        desired_count: s.desired_count.as_ref().map(|c| c.value),
        min_capacity: s.min_capacity.as_ref().map(|c| c.value),
        max_capacity: s.max_capacity.as_ref().map(|c| c.value),
        target_groups,
        selected_by: None,
    })
}

/// A problem at `name` unless it is an ECS `what` (cluster or service) name.
fn check_ecs_name(what: &str, name: &Spanned<String>, problems: &mut Vec<Problem>) {
    if !is_ecs_name(&name.value) {
        problems.push(Problem::at(
            name,
            format!(
                "{what} `{}` is not an ECS {what} name (1-255 letters, digits, - and _; not an ARN)",
                escaped(&name.value)
            ),
        ));
    }
}

/// A `capacity` entry: a group name (once in the file), and fallback sizes that a group can
/// take (`min <= desired <= max`; `desired` needs `min`, so a start never guesses one).
fn group(
    g: &RawGroup,
    environment: &str,
    place: &Place,
    seen: &mut HashMap<(Place, String), (String, u64)>,
    problems: &mut Vec<Problem>,
) -> Option<GroupConfig> {
    let before = problems.len();
    let name = &g.autoscaling_group;
    if !is_group_name(&name.value) {
        problems.push(Problem::at(
            name,
            format!(
                "`{}` is not an Auto Scaling group name (1-255 characters, no `:`, `*` or `?`; the name, not the ARN)",
                escaped(&name.value)
            ),
        ));
    } else if let Some((other, line)) = seen.get(&(place.clone(), name.value.clone())) {
        problems.push(Problem::at(
            name,
            format!(
                "Auto Scaling group `{}` is already listed in environment `{}` (line {line}); a group belongs to one environment only",
                escaped(&name.value),
                escaped(other)
            ),
        ));
    } else {
        seen.insert((place.clone(), name.value.clone()), (environment.to_string(), name.referenced.line()));
    }
    let value = |s: &Option<Spanned<u32>>| s.as_ref().map(|s| s.value);
    if let (Some(desired), None) = (&g.desired, &g.min) {
        problems.push(Problem::at(
            desired,
            "`desired` needs `min` too: the sizes a start gives a group without a snapshot",
        ));
    }
    let sizes = [("min", &g.min), ("desired", &g.desired), ("max", &g.max)];
    for pair in sizes.windows(2).chain(std::iter::once(&[sizes[0], sizes[2]][..])) {
        if let [(low_key, Some(low)), (high_key, Some(high))] = pair
            && low.value > high.value
        {
            problems
                .push(Problem::at(low, format!("{low_key} {} is greater than {high_key} {}", low.value, high.value)));
        }
    }
    (problems.len() == before).then(|| GroupConfig {
        name: name.value.clone(),
        min: value(&g.min),
        desired: value(&g.desired),
        max: value(&g.max),
    })
}

/// An Auto Scaling group name: 1-255 printable characters without `:` (an ARN's separator),
/// `*` or `?` (wildcards in the IAM scope Terraform builds from it).
fn is_group_name(s: &str) -> bool {
    (1..=255).contains(&s.chars().count()) && s.chars().all(|c| !c.is_control() && !matches!(c, ':' | '*' | '?'))
}

fn is_environment_name(s: &str) -> bool {
    (1..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_ecs_name(s: &str) -> bool {
    (1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_target_group_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "elasticloadbalancing", region, account, resource]
        if partition.starts_with("aws")
            && !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("targetgroup/").is_some_and(|r| r.split('/').count() == 2 && !r.contains("//")))
}

#[cfg(test)]
mod tests;
