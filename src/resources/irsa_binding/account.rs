//! The plan-time check that the role can be made where the plan says it will be: `role_arn`
//! takes its account from the OIDC provider's ARN, but IAM creates a role in the account of
//! the credentials that call `CreateRole`. When the two differ, apply would create the role
//! in the wrong account (or retry "Invalid principal in policy" until its deadline, since the
//! OIDC provider does not exist there), so plan refuses it with both account ids.

use crate::aws::Arn;
use crate::codec::{AttributePath, Diagnostic, Value};

/// The account the plan puts the role in: `role_arn`'s, else `oidc_provider_arn`'s; `None`
/// while neither is known, and when the plan writes nothing to IAM (destroy, no change).
pub fn planned_account(prior: &Value, planned: &Value) -> Option<String> {
    if planned.is_null() || planned == prior {
        return None;
    }
    ["role_arn", "oidc_provider_arn"]
        .iter()
        .filter_map(|name| planned.get(name).as_str())
        .find_map(|arn| Arn::parse(arn).ok())
        .map(|arn| arn.account)
        .filter(|account| !account.is_empty())
}

/// The error when the role's account is not the caller's.
pub fn mismatch(planned: &Value, role_account: &str, caller_account: &str) -> Option<Diagnostic> {
    if role_account == caller_account {
        return None;
    }
    let oidc = planned
        .get("oidc_provider_arn")
        .as_str()
        .unwrap_or_default();
    let role = planned
        .get("role_arn")
        .as_str()
        .map(|arn| format!("Its role would be {arn}, in"))
        .unwrap_or_else(|| "Its role would be in".to_string());
    Some(
        Diagnostic::error(
            "OIDC provider in another AWS account",
            format!(
                "{role} account {role_account}, the account of oidc_provider_arn {oidc}, but \
                 the provider's AWS credentials belong to account {caller_account} \
                 (sts:GetCallerIdentity). IAM creates roles in the caller's account, and an \
                 OIDC provider of account {role_account} cannot be trusted from account \
                 {caller_account}. Use credentials of account {role_account} (aws.profile or \
                 aws.assume_role in the provider block), or the OIDC provider of the cluster in \
                 account {caller_account}."
            ),
        )
        .at(AttributePath::new("oidc_provider_arn")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const OIDC: &str =
        "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE";

    fn planned() -> Value {
        Value::object([
            ("oidc_provider_arn", Value::from(OIDC)),
            (
                "role_arn",
                Value::from("arn:aws:iam::111122223333:role/ci-runner-gitlab-runner"),
            ),
        ])
    }

    #[test]
    fn the_role_account_comes_from_the_plan_when_it_writes_to_iam() {
        assert_eq!(
            planned_account(&Value::Null, &planned()),
            Some("111122223333".to_string())
        );
        let mut unknown_role = planned();
        unknown_role.set_attr("role_arn", Value::Unknown);
        assert_eq!(
            planned_account(&Value::Null, &unknown_role),
            Some("111122223333".to_string())
        );
        assert_eq!(planned_account(&planned(), &planned()), None, "no change");
        assert_eq!(planned_account(&planned(), &Value::Null), None, "destroy");
    }

    #[test]
    fn another_account_is_an_error_naming_both() {
        assert!(mismatch(&planned(), "111122223333", "111122223333").is_none());
        let error = mismatch(&planned(), "111122223333", "444455556666").unwrap();
        assert_eq!(error.summary, "OIDC provider in another AWS account");
        assert!(error.detail.contains("account 111122223333"));
        assert!(error.detail.contains("belong to account 444455556666"));
        assert_eq!(
            error.attribute,
            Some(AttributePath::new("oidc_provider_arn"))
        );
    }
}
