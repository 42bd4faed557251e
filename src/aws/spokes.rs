//! The clients of the other accounts and regions a schedule file names (README, "Many accounts and
//! regions"): ECS, Application Auto Scaling, EC2 Auto Scaling and ELB of each (role, region),
//! made the first time a run needs them and kept for the life of a warm container. The state
//! table and Scheduler stay the function's own. Each role is assumed once (its session lasts an
//! hour) and its credentials are shared by every region it acts in; the SDK's identity cache
//! assumes it again some [`REFRESH_BEFORE`] before it expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::identity::IdentityCache;
use aws_config::sts::AssumeRoleProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::future;
use aws_sdk_ecs::config::{Credentials, ProvideCredentials, SharedCredentialsProvider, SharedIdentityCache};

use super::Sdk;
use crate::error::{AwsError, ErrorKind};
use crate::pace::Limits;
use crate::schedule::{Account, Place};

/// How long an assumed role's session lasts (AssumeRole's default and the role's default maximum).
pub const SESSION: Duration = Duration::from_secs(3600);
/// How long before the session ends its credentials are replaced: the SDK's identity cache takes
/// them as expired this long before their end, less a random jitter of up to half of it (so
/// between 10 and 5 minutes before). Every call asks the cache, so each is signed with credentials
/// good for minutes more, and an AssumeRole that is slow or throttled (retried) still has minutes
/// to succeed before anything needs the new ones.
pub const REFRESH_BEFORE: Duration = Duration::from_secs(10 * 60);

/// The cache key of a place's clients: the role assumed (None: the function's own credentials)
/// and the region they call.
pub type Key = (Option<String>, String);

/// The clients of other places, by [`Key`], and the credentials of each role.
pub struct Spokes {
    /// The function's own configuration: credentials, region, endpoint, retries, timeouts.
    base: SdkConfig,
    limits: Limits,
    /// The function's own state table and Scheduler clients, which every place's runs keep.
    hub: (aws_sdk_scheduler::Client, aws_sdk_dynamodb::Client),
    /// Per role ARN: its credentials provider and their cache, shared by all its regions.
    roles: tokio::sync::Mutex<HashMap<String, Assumed>>,
    clients: Mutex<HashMap<Key, Sdk>>,
    /// [`SESSION`] and [`REFRESH_BEFORE`] (a test's are seconds).
    session: Duration,
    refresh_before: Duration,
}

impl std::fmt::Debug for Spokes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<Key> = self.clients().keys().cloned().collect();
        f.debug_struct("Spokes").field("clients", &keys).finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Assumed {
    provider: SharedCredentialsProvider,
    cache: SharedIdentityCache,
}

/// The key of `place`'s clients: its role and its region (the function's own when it names none).
pub fn key(place: &Place, role: Option<&Account>, home_region: Option<&str>) -> Option<Key> {
    let region = place.region.as_deref().or(home_region)?;
    Some((role.map(|r| r.role_arn.clone()), region.to_string()))
}

impl Spokes {
    pub fn new(base: &SdkConfig, limits: &Limits, hub: &Sdk) -> Spokes {
        Spokes {
            base: base.clone(),
            limits: limits.clone(),
            hub: (hub.scheduler.clone(), hub.dynamodb.clone()),
            roles: tokio::sync::Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            session: SESSION,
            refresh_before: REFRESH_BEFORE,
        }
    }

    /// The same with another session length and refresh margin (a test of the refresh).
    pub fn with_session(self, session: Duration, refresh_before: Duration) -> Spokes {
        Spokes { session, refresh_before, ..self }
    }

    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Sdk>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The keys of the clients made so far.
    pub fn keys(&self) -> Vec<Key> {
        let mut keys: Vec<Key> = self.clients().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The clients of `place`, assuming `role` (named `session`) when given: the ones made before
    /// for the same role and region, else new ones. A role that cannot be assumed is
    /// `access_denied` naming it (nothing is kept: the next run tries again).
    pub async fn at(&self, place: &Place, role: Option<&Account>, session: &str) -> Result<Sdk, AwsError> {
        let home = self.base.region().map(|r| r.to_string());
        let key = key(place, role, home.as_deref()).ok_or_else(|| {
            AwsError::in_response("AssumeRole", ErrorKind::Invalid, format!("no region for {place}: set AWS_REGION"))
        })?;
        if let Some(sdk) = self.clients().get(&key) {
            return Ok(sdk.clone());
        }
        let mut config = self.base.to_builder().region(aws_config::Region::new(key.1.clone()));
        if let Some(role) = role {
            let assumed = self.assume(role, session).await?;
            config = config.credentials_provider(assumed.provider).identity_cache(assumed.cache);
        }
        let mut sdk = Sdk::paced(&config.build(), &self.limits);
        (sdk.scheduler, sdk.dynamodb) = self.hub.clone();
        sdk.spokes = None;
        Ok(self.clients().entry(key).or_insert(sdk).clone())
    }

    /// The role's credentials: assumed now (once per role, however many regions ask at once),
    /// then from the cache.
    async fn assume(&self, role: &Account, session: &str) -> Result<Assumed, AwsError> {
        let mut roles = self.roles.lock().await;
        if let Some(assumed) = roles.get(&role.role_arn) {
            return Ok(assumed.clone());
        }
        let mut builder = AssumeRoleProvider::builder(&role.role_arn)
            .configure(&self.base)
            .session_name(session)
            .session_length(self.session);
        if let Some(id) = &role.external_id {
            builder = builder.external_id(id);
        }
        let provider = builder.build().await;
        let first = provider.provide_credentials().await.map_err(|e| assume_failed(&role.role_arn, session, &e))?;
        let assumed = Assumed {
            provider: SharedCredentialsProvider::new(FirstThen { first: Mutex::new(Some(first)), then: provider }),
            cache: IdentityCache::lazy().buffer_time(self.refresh_before).build(),
        };
        roles.insert(role.role_arn.clone(), assumed.clone());
        Ok(assumed)
    }
}

/// AssumeRole refused or failed: the role named, with STS's words.
fn assume_failed(role_arn: &str, session: &str, e: &CredentialsError) -> AwsError {
    let kind = match e {
        CredentialsError::ProviderTimedOut(_) => ErrorKind::Timeout,
        _ => ErrorKind::AccessDenied,
    };
    let words = aws_sdk_ecs::error::DisplayErrorContext(e).to_string();
    AwsError::in_response("AssumeRole", kind, format!("cannot assume role {role_arn} (session {session}): {words}"))
}

/// The credentials AssumeRole gave when the role was first checked, then the provider's: the
/// check is the first session, not an extra AssumeRole.
#[derive(Debug)]
struct FirstThen {
    first: Mutex<Option<Credentials>>,
    then: AssumeRoleProvider,
}

impl ProvideCredentials for FirstThen {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        match self.first.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(first) => future::ProvideCredentials::ready(Ok(first)),
            None => self.then.provide_credentials(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(arn: &str) -> Account {
        Account { name: "stg".into(), id: "222222222222".into(), role_arn: arn.into(), external_id: None }
    }

    #[test]
    fn clients_are_kept_per_role_and_region() {
        let role = account("arn:aws:iam::222222222222:role/t");
        let tokyo = Some("ap-northeast-1");
        let osaka = Place { account: Some("222222222222".into()), region: Some("ap-northeast-3".into()) };
        let stg = Place { account: Some("222222222222".into()), region: None };
        assert_eq!(key(&stg, Some(&role), tokyo), Some((Some(role.role_arn.clone()), "ap-northeast-1".into())));
        assert_eq!(key(&osaka, Some(&role), tokyo), Some((Some(role.role_arn.clone()), "ap-northeast-3".into())));
        // The function's own account in another region: its own credentials.
        let own_osaka = Place { account: None, region: Some("ap-northeast-3".into()) };
        assert_eq!(key(&own_osaka, None, tokyo), Some((None, "ap-northeast-3".into())));
        // A region named the same as the function's is the same clients as naming none.
        let named_tokyo = Place { region: Some("ap-northeast-1".into()), ..stg.clone() };
        assert_eq!(key(&named_tokyo, Some(&role), tokyo), key(&stg, Some(&role), tokyo));
        assert_eq!(key(&stg, Some(&role), None), None, "no region known: no clients");
    }
}
