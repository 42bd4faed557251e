//! Where a service lives (README, "Many accounts and regions"): the optional `accounts:` table of
//! target accounts (a role to assume in each) and the `account` / `region` of an environment or of
//! one `services` entry, which wins. Read with the place of every value; every problem is
//! reported at the value it is about. Pure: which credentials reach a place is `aws::Places`'.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::{Ordered, Problem};
use crate::text::escaped;

/// An account and a region: `None` is the function's own (the account of its role, the region it
/// runs in). Part of every service's identity ([`super::ServiceRef`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Place {
    /// The 12-digit account id of an `accounts` entry's role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Place {
    /// The function's own account and region.
    pub fn is_home(&self) -> bool {
        self.account.is_none() && self.region.is_none()
    }

    /// `ACCOUNT/REGION/` (the parts that are set), the prefix of a service's name in reports; empty
    /// at home, so a one-account file reads as before.
    pub fn prefix(&self) -> String {
        let mut out = String::new();
        for part in [&self.account, &self.region].into_iter().flatten() {
            out.push_str(part);
            out.push('/');
        }
        out
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let account = self.account.as_deref().map_or("the function's account".to_string(), |a| format!("account {a}"));
        let region = self.region.as_deref().unwrap_or("the function's region");
        write!(f, "{account}, {region}")
    }
}

/// An `accounts:` entry: the role the function assumes to act in that account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its key in the file (`stg`), as `account:` names it.
    pub name: String,
    /// The account id, from the role's ARN.
    pub id: String,
    pub role_arn: String,
    /// Sent with AssumeRole when given (the role's trust policy requires it).
    pub external_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccount {
    role_arn: Spanned<String>,
    external_id: Option<Spanned<String>>,
}

/// `account:` and `region:` as an environment or an entry writes them.
#[derive(Default)]
pub(super) struct RawPlace<'a> {
    pub account: Option<&'a Spanned<String>>,
    pub region: Option<&'a Spanned<String>>,
}

/// The checked `accounts:` table, keyed by name.
pub(super) fn accounts(raw: Option<&Ordered<RawAccount>>, problems: &mut Vec<Problem>) -> BTreeMap<String, Account> {
    let mut table = BTreeMap::new();
    let Some(raw) = raw else { return table };
    // Where each account id was first given, to point at a second name for it.
    let mut ids: HashMap<String, (String, u64)> = HashMap::new();
    for (name, entry) in &raw.0 {
        let before = problems.len();
        if !is_account_name(&name.value) {
            problems.push(Problem::at(
                name,
                format!("account name `{}` must be 1-32 characters of a-z, 0-9, - and _", escaped(&name.value)),
            ));
        }
        let id = role_account(&entry.role_arn.value);
        match &id {
            None => problems.push(Problem::at(
                &entry.role_arn,
                format!(
                    "`{}` is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME, a path allowed before NAME)",
                    escaped(&entry.role_arn.value)
                ),
            )),
            Some(id) => match ids.get(id) {
                Some((other, line)) => problems.push(Problem::at(
                    &entry.role_arn,
                    format!(
                        "account {id} is already named `{}` (line {line}); an account has one entry and one role",
                        escaped(other)
                    ),
                )),
                None => {
                    ids.insert(id.clone(), (name.value.clone(), entry.role_arn.referenced.line()));
                }
            },
        }
        if let Some(external) = &entry.external_id
            && !is_external_id(&external.value)
        {
            problems
                .push(Problem::at(external, "`external_id` must be 2-1224 characters of letters, digits and +=,.@:/-"));
        }
        if let (true, Some(id)) = (problems.len() == before, id) {
            table.insert(
                name.value.clone(),
                Account {
                    name: name.value.clone(),
                    id,
                    role_arn: entry.role_arn.value.clone(),
                    external_id: entry.external_id.as_ref().map(|e| e.value.clone()),
                },
            );
        }
    }
    table
}

/// The place of an entry: its own `account` / `region`, else its environment's (`inherited`).
/// A problem at the value when the account is not in the table or the region is not a region name.
pub(super) fn place(
    raw: &RawPlace<'_>,
    inherited: &Place,
    accounts: &BTreeMap<String, Account>,
    problems: &mut Vec<Problem>,
) -> Place {
    let account = match raw.account {
        None => inherited.account.clone(),
        Some(name) => match accounts.get(&name.value) {
            Some(account) => Some(account.id.clone()),
            None => {
                let known = if accounts.is_empty() {
                    "the file has no `accounts` table".to_string()
                } else {
                    format!("`accounts` names {}", accounts.keys().cloned().collect::<Vec<_>>().join(", "))
                };
                problems.push(Problem::at(name, format!("unknown account `{}`: {known}", escaped(&name.value))));
                None
            }
        },
    };
    let region = match raw.region {
        None => inherited.region.clone(),
        Some(region) if is_region(&region.value) => Some(region.value.clone()),
        Some(region) => {
            problems.push(Problem::at(
                region,
                format!("`{}` is not an AWS region name (e.g. ap-northeast-1, ap-northeast-3)", escaped(&region.value)),
            ));
            None
        }
    };
    Place { account, region }
}

/// The account id of a role ARN, `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
pub fn role_account(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", partition, "iam", "", account, resource]
            if matches!(*partition, "aws" | "aws-cn" | "aws-us-gov")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|r| {
                    !r.is_empty()
                        && !r.ends_with('/')
                        && !r.contains("//")
                        && r.split('/').all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b)))
                        && r.rsplit('/').next().is_some_and(|n| (1..=64).contains(&n.len()))
                }) =>
        {
            Some(account.to_string())
        }
        _ => None,
    }
}

/// An AWS region name: `ap-northeast-3`, `us-gov-west-1`, `cn-north-1`.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| (1..=20).contains(&n))
}

fn is_account_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// STS's ExternalId: 2-1224 characters of `[\w+=,.@:/-]`.
fn is_external_id(s: &str) -> bool {
    (2..=1224).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_and_region_names_are_read_as_aws_writes_them() {
        assert_eq!(
            role_account("arn:aws:iam::222222222222:role/ecs-cost-saver-target").as_deref(),
            Some("222222222222")
        );
        assert_eq!(role_account("arn:aws:iam::222222222222:role/ops/ecs-cost-saver").as_deref(), Some("222222222222"));
        for bad in [
            "arn:aws:iam::22222222222:role/x",
            "arn:aws:iam:ap-northeast-1:222222222222:role/x",
            "arn:aws:iam::222222222222:user/x",
            "arn:aws:iam::222222222222:role/",
            "arn:aws:sts::222222222222:role/x",
            "222222222222",
        ] {
            assert_eq!(role_account(bad), None, "{bad}");
        }
        for good in ["ap-northeast-1", "ap-northeast-3", "us-gov-west-1", "cn-north-1", "eu-central-2"] {
            assert!(is_region(good), "{good}");
        }
        for bad in ["tokyo", "ap-northeast", "AP-NORTHEAST-1", "ap-northeast-1a", "ap--1", ""] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn a_place_prints_only_what_it_sets() {
        let home = Place::default();
        assert!(home.is_home());
        assert_eq!(home.prefix(), "");
        let osaka = Place { account: Some("222222222222".into()), region: Some("ap-northeast-3".into()) };
        assert_eq!(osaka.prefix(), "222222222222/ap-northeast-3/");
        assert_eq!(osaka.to_string(), "account 222222222222, ap-northeast-3");
        assert_eq!(Place { region: Some("ap-northeast-3".into()), ..Place::default() }.prefix(), "ap-northeast-3/");
    }
}
