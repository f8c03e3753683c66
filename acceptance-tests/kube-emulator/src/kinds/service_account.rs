//! ServiceAccounts.

use super::{Kind, KindInfo, READ_WRITE_VERBS};
use crate::schema::definitions::SERVICE_ACCOUNT;
use crate::validation::meta::NameRule;

static INFO: KindInfo = KindInfo {
    group: "",
    version: "v1",
    kind: "ServiceAccount",
    plural: "serviceaccounts",
    singular: "serviceaccount",
    namespaced: true,
    short_names: &["sa"],
    verbs: READ_WRITE_VERBS,
    storage_version_hash: "pbx9ZvyFpBE=",
    schema: &SERVICE_ACCOUNT,
    name_rule: NameRule::Dns1123Subdomain,
    create_on_update: false,
    return_deleted_object: true,
};

/// `v1.ServiceAccount`.
pub struct ServiceAccount;

impl Kind for ServiceAccount {
    fn info(&self) -> &'static KindInfo {
        &INFO
    }
}
