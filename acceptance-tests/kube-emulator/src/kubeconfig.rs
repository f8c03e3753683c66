//! The kubeconfig the emulator emits (admin user, CA data, one context).

use base64::Engine;

fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A kubeconfig for `server` trusting `ca_pem`, authenticating with `token`.
pub fn render(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: kube-emulator\n  \
           cluster:\n    \
             server: {server}\n    \
             certificate-authority-data: {ca}\n\
         users:\n\
         - name: {user}\n  \
           user:\n    \
             token: {token}\n\
         contexts:\n\
         - name: kube-emulator\n  \
           context:\n    \
             cluster: kube-emulator\n    \
             user: {user}\n    \
             namespace: default\n\
         current-context: kube-emulator\n\
         preferences: {{}}\n",
        server = quoted(server),
        ca = quoted(&ca),
        user = quoted(user),
        token = quoted(token),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_yaml_with_the_server_and_token() {
        let text = render("https://127.0.0.1:1234", "PEM", "admin", "tok");
        assert!(text.contains("server: \"https://127.0.0.1:1234\""));
        assert!(text.contains("token: \"tok\""));
        assert!(text.contains("current-context: kube-emulator"));
    }
}
