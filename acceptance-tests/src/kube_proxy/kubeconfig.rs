//! The two kubeconfigs of a Kubernetes proxy: the upstream's (which server, which CA verifies
//! it, which client certificate if any) and the one the provider is given (the same user and
//! credentials, the proxy's URL and CA).

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use kube::config::{Cluster, Kubeconfig};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::fault_proxy::ProxyError;

/// How to reach and trust the upstream API server.
pub struct UpstreamTarget {
    /// `https://host:port`.
    pub server: String,
    /// The name its certificate is verified for (`tls-server-name`, else the URL's host).
    pub server_name: String,
    /// Trusts the upstream CA only, and presents the user's client certificate if it has one.
    pub client_config: rustls::ClientConfig,
}

/// The kubeconfig at `path`, its current context resolved.
pub struct Current {
    /// The whole file.
    pub kubeconfig: Kubeconfig,
    cluster_index: usize,
}

fn unusable(path: &Path, why: impl std::fmt::Display) -> ProxyError {
    ProxyError::Tls(format!("the kubeconfig {}: {why}", path.display()))
}

impl Current {
    /// Reads `path` and finds its current context's cluster.
    pub fn read(path: &Path) -> Result<Self, ProxyError> {
        let kubeconfig = Kubeconfig::read_from(path).map_err(|e| unusable(path, e))?;
        let context_name = kubeconfig
            .current_context
            .clone()
            .ok_or_else(|| unusable(path, "no current-context"))?;
        let cluster_name = kubeconfig
            .contexts
            .iter()
            .find(|c| c.name == context_name)
            .and_then(|c| c.context.as_ref())
            .map(|c| c.cluster.clone())
            .ok_or_else(|| unusable(path, format!("no context {context_name:?}")))?;
        let cluster_index = kubeconfig
            .clusters
            .iter()
            .position(|c| c.name == cluster_name && c.cluster.is_some())
            .ok_or_else(|| unusable(path, format!("no cluster {cluster_name:?}")))?;
        Ok(Self {
            kubeconfig,
            cluster_index,
        })
    }

    fn cluster(&self) -> &Cluster {
        self.kubeconfig.clusters[self.cluster_index]
            .cluster
            .as_ref()
            .expect("checked in read")
    }

    fn user(&self) -> Option<&kube::config::AuthInfo> {
        let context = self.kubeconfig.current_context.as_deref()?;
        let user = self
            .kubeconfig
            .contexts
            .iter()
            .find(|c| c.name == context)?
            .context
            .as_ref()?
            .user
            .clone()?;
        self.kubeconfig
            .auth_infos
            .iter()
            .find(|a| a.name == user)?
            .auth_info
            .as_ref()
    }

    /// Where the upstream is and how its certificate is verified. Refuses a cluster without a
    /// CA or with `insecure-skip-tls-verify`: the proxy verifies what it talks to.
    pub fn upstream(&self, path: &Path) -> Result<UpstreamTarget, ProxyError> {
        let cluster = self.cluster();
        let server = cluster
            .server
            .clone()
            .ok_or_else(|| unusable(path, "the cluster has no server"))?;
        if cluster.insecure_skip_tls_verify == Some(true) {
            return Err(unusable(
                path,
                "insecure-skip-tls-verify: the proxy only talks to a verified server",
            ));
        }
        let ca_pem = match (
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
        ) {
            (Some(data), _) => base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| unusable(path, format!("certificate-authority-data: {e}")))?,
            (None, Some(file)) => std::fs::read(file).map_err(|e| unusable(path, e))?,
            (None, None) => return Err(unusable(path, "the cluster names no CA")),
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&ca_pem) {
            let cert = cert.map_err(|e| unusable(path, format!("CA: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| unusable(path, format!("CA: {e}")))?;
        }
        let server_name = match &cluster.tls_server_name {
            Some(name) => name.clone(),
            None => {
                let uri: http::Uri = server.parse().map_err(|e| unusable(path, e))?;
                let host = uri.host().unwrap_or_default();
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string()
            }
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| unusable(path, e))?
            .with_root_certificates(roots);
        let client_config = match self.client_identity(path)? {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| unusable(path, e))?,
            None => builder.with_no_client_auth(),
        };
        Ok(UpstreamTarget {
            server,
            server_name,
            client_config,
        })
    }

    /// The user's client certificate and key, if it authenticates with one: the proxy
    /// terminates TLS, so it presents them to the upstream on the user's behalf.
    fn client_identity(
        &self,
        path: &Path,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, ProxyError> {
        use secrecy::ExposeSecret as _;
        let Some(user) = self.user() else {
            return Ok(None);
        };
        let decode = |data: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| unusable(path, e))
        };
        let cert = match (&user.client_certificate_data, &user.client_certificate) {
            (Some(data), _) => decode(data)?,
            (None, Some(file)) => std::fs::read(file).map_err(|e| unusable(path, e))?,
            (None, None) => return Ok(None),
        };
        let key = match (&user.client_key_data, &user.client_key) {
            (Some(data), _) => decode(data.expose_secret())?,
            (None, Some(file)) => std::fs::read(file).map_err(|e| unusable(path, e))?,
            (None, None) => return Err(unusable(path, "a client certificate without a key")),
        };
        let chain = CertificateDer::pem_slice_iter(&cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unusable(path, format!("client certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(&key)
            .map_err(|e| unusable(path, format!("client key: {e}")))?;
        Ok(Some((chain, key)))
    }

    /// The provider's kubeconfig: the same contexts and users, the current cluster served by
    /// the proxy at `url` and trusted through `ca_pem` only.
    pub fn through_proxy(&self, url: &str, ca_pem: &str) -> Kubeconfig {
        let mut kubeconfig = self.kubeconfig.clone();
        let cluster = kubeconfig.clusters[self.cluster_index]
            .cluster
            .as_mut()
            .expect("checked in read");
        cluster.server = Some(url.to_string());
        cluster.certificate_authority = None;
        cluster.certificate_authority_data =
            Some(base64::engine::general_purpose::STANDARD.encode(ca_pem));
        cluster.tls_server_name = None;
        cluster.insecure_skip_tls_verify = None;
        cluster.proxy_url = None;
        kubeconfig
    }
}
