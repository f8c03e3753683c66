//! Authentication: static bearer tokens, ServiceAccount JWTs issued by this emulator, and
//! the anonymous user for requests without credentials.

pub mod impersonation;
pub mod service_account;
pub mod token_file;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::kinds::object;
use crate::store::{Key, Store};
use service_account::SignerSource;
use token_file::StaticToken;

/// Group every authenticated user is in.
pub const AUTHENTICATED: &str = "system:authenticated";
/// Group of the anonymous user.
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
/// Name of the anonymous user.
pub const ANONYMOUS: &str = "system:anonymous";

/// `user.Info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// User name.
    pub name: String,
    /// UID.
    pub uid: String,
    /// Groups.
    pub groups: Vec<String>,
    /// Extra attributes.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    /// `system:anonymous`.
    pub fn anonymous() -> UserInfo {
        UserInfo {
            name: ANONYMOUS.into(),
            groups: vec![UNAUTHENTICATED.into()],
            ..UserInfo::default()
        }
    }

    /// A user with `system:authenticated` appended (unless already present).
    pub fn authenticated(name: &str, uid: &str, groups: &[String]) -> UserInfo {
        let mut groups = groups.to_vec();
        if !groups.iter().any(|g| g == AUTHENTICATED) {
            groups.push(AUTHENTICATED.into());
        }
        UserInfo {
            name: name.into(),
            uid: uid.into(),
            groups,
            extra: BTreeMap::new(),
        }
    }

    /// The `userInfo` object of reviews.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        if !self.name.is_empty() {
            m.insert("username".into(), Value::String(self.name.clone()));
        }
        if !self.uid.is_empty() {
            m.insert("uid".into(), Value::String(self.uid.clone()));
        }
        if !self.groups.is_empty() {
            m.insert("groups".into(), serde_json::json!(self.groups));
        }
        if !self.extra.is_empty() {
            m.insert("extra".into(), serde_json::json!(self.extra));
        }
        Value::Object(m)
    }
}

/// The outcome of authenticating a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Authn {
    /// A known user.
    User(UserInfo),
    /// No credentials: the anonymous user.
    Anonymous,
    /// Credentials nobody recognizes (401).
    Failed,
}

/// What token authentication needs to know.
pub struct TokenAuthenticator<'a> {
    /// Static tokens.
    pub static_tokens: &'a [StaticToken],
    /// Key of ServiceAccount tokens.
    pub signer: &'a SignerSource,
    /// Expected `iss`.
    pub issuer: &'a str,
    /// Audiences the API accepts (`--api-audiences`, the issuer by default).
    pub api_audiences: &'a [String],
    /// Objects (ServiceAccounts must still exist with the token's uid).
    pub store: &'a Store,
    /// Now, in Unix seconds.
    pub now: i64,
}

impl TokenAuthenticator<'_> {
    /// Authenticates an `Authorization` header value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Authn {
        let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) else {
            return Authn::Anonymous;
        };
        let mut parts = header.splitn(3, ' ');
        let scheme = parts.next().unwrap_or("");
        let token = parts.next().unwrap_or("");
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return Authn::Anonymous;
        }
        self.token_user(token).map_or(Authn::Failed, Authn::User)
    }

    /// The user a bearer token stands for.
    pub fn token_user(&self, token: &str) -> Option<UserInfo> {
        if let Some(t) = self.static_tokens.iter().find(|t| t.token == token) {
            return Some(UserInfo::authenticated(&t.user, &t.uid, &t.groups));
        }
        self.service_account_user(token)
    }

    fn service_account_user(&self, token: &str) -> Option<UserInfo> {
        if token.split('.').count() != 3 {
            return None;
        }
        let claims = self.signer.get().verify(token)?;
        let int = |k: &str| claims.get(k).and_then(Value::as_i64);
        if claims.get("iss").and_then(Value::as_str) != Some(self.issuer) {
            return None;
        }
        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !audiences
            .iter()
            .any(|a| self.api_audiences.iter().any(|x| x == a))
        {
            return None;
        }
        const LEEWAY: i64 = 60;
        if int("exp").is_none_or(|exp| self.now > exp + LEEWAY)
            || int("nbf").is_some_and(|nbf| self.now + LEEWAY < nbf)
        {
            return None;
        }
        let k8s = claims.get("kubernetes.io")?;
        let namespace = k8s.get("namespace").and_then(Value::as_str)?;
        let name = k8s
            .pointer("/serviceaccount/name")
            .and_then(Value::as_str)?;
        let uid = k8s.pointer("/serviceaccount/uid").and_then(Value::as_str)?;
        let sa = self
            .store
            .get(&Key::new("serviceaccounts", namespace, name))?;
        if object::meta_str(sa, "uid") != uid
            || !object::meta_str(sa, "deletionTimestamp").is_empty()
        {
            return None;
        }
        Some(UserInfo::authenticated(
            &format!("system:serviceaccount:{namespace}:{name}"),
            uid,
            &[
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
            ],
        ))
    }
}
