//! HTTP(S) URLs as users write them for endpoints and API servers: checked for the mistakes
//! people make (no scheme, a typo in the port, spaces) without a full URL parser.

/// A checked `http://` or `https://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// Whether the scheme is `https`.
    pub https: bool,
    /// The host: a DNS name, an IPv4 address or a bracketed IPv6 address.
    pub host: String,
    /// The port, when one is written.
    pub port: Option<u16>,
    /// Everything after the authority (path, query), possibly empty.
    pub rest: String,
}

/// Why a string is not a usable URL. The text completes "... is not a valid URL: ".
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// No `http://` or `https://` in front.
    #[error("it must start with http:// or https://")]
    Scheme,
    /// `https://` is required here.
    #[error("it must start with https://")]
    NotHttps,
    /// Spaces or control characters.
    #[error("it contains spaces or control characters")]
    Whitespace,
    /// No host after the scheme.
    #[error("it has no host")]
    NoHost,
    /// Credentials in the URL.
    #[error("it must not contain a user name or password (user@host)")]
    UserInfo,
    /// A host that is not a DNS name or IP address.
    #[error("{0:?} is not a host name or IP address")]
    Host(String),
    /// A port that is not a number from 1 to 65535.
    #[error("{0:?} is not a port number (1 to 65535)")]
    Port(String),
}

impl HttpUrl {
    /// Parses an `http://` or `https://` URL.
    pub fn parse(text: &str) -> Result<HttpUrl, UrlError> {
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError::Whitespace);
        }
        let lower = text.to_ascii_lowercase();
        let (https, rest) = if lower.starts_with("https://") {
            (true, &text["https://".len()..])
        } else if lower.starts_with("http://") {
            (false, &text["http://".len()..])
        } else {
            return Err(UrlError::Scheme);
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, rest) = rest.split_at(end);
        if authority.is_empty() {
            return Err(UrlError::NoHost);
        }
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port) = split_port(authority)?;
        if !is_host(host) {
            return Err(UrlError::Host(host.to_string()));
        }
        Ok(HttpUrl {
            https,
            host: host.to_string(),
            port,
            rest: rest.to_string(),
        })
    }

    /// Parses a URL that must be `https://`.
    pub fn parse_https(text: &str) -> Result<HttpUrl, UrlError> {
        let url = HttpUrl::parse(text)?;
        if url.https {
            Ok(url)
        } else {
            Err(UrlError::NotHttps)
        }
    }
}

fn split_port(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let colon = if authority.starts_with('[') {
        authority
            .find(']')
            .and_then(|end| authority[end + 1..].starts_with(':').then_some(end + 1))
    } else {
        authority.rfind(':')
    };
    let Some(colon) = colon else {
        return Ok((authority, None));
    };
    let (host, port) = (&authority[..colon], &authority[colon + 1..]);
    match port.parse::<u16>() {
        Ok(number) if number > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {
            Ok((host, Some(number)))
        }
        _ => Err(UrlError::Port(port.to_string())),
    }
}

fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    !host.is_empty()
        && host.len() <= 253
        && host.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_of_emulators_and_aws_parse() {
        let url = HttpUrl::parse("http://127.0.0.1:4566").unwrap();
        assert_eq!(
            (url.https, url.host.as_str(), url.port),
            (false, "127.0.0.1", Some(4566))
        );
        let url = HttpUrl::parse("https://iam.amazonaws.com/").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.rest.as_str()),
            ("iam.amazonaws.com", None, "/")
        );
        let url = HttpUrl::parse("https://[::1]:6443").unwrap();
        assert_eq!((url.host.as_str(), url.port), ("[::1]", Some(6443)));
        assert!(HttpUrl::parse("HTTPS://ABC.gr7.eu-central-1.eks.amazonaws.com").is_ok());
    }

    #[test]
    fn common_mistakes_are_named() {
        assert_eq!(HttpUrl::parse("127.0.0.1:4566"), Err(UrlError::Scheme));
        assert_eq!(HttpUrl::parse("ftp://x"), Err(UrlError::Scheme));
        assert_eq!(HttpUrl::parse("http://"), Err(UrlError::NoHost));
        assert_eq!(HttpUrl::parse("http:// x"), Err(UrlError::Whitespace));
        assert_eq!(
            HttpUrl::parse("http://localhost:45a6"),
            Err(UrlError::Port("45a6".into()))
        );
        assert_eq!(
            HttpUrl::parse("http://localhost:0"),
            Err(UrlError::Port("0".into()))
        );
        assert_eq!(
            HttpUrl::parse("http://localhost:70000"),
            Err(UrlError::Port("70000".into()))
        );
        assert_eq!(HttpUrl::parse("http://u:p@host"), Err(UrlError::UserInfo));
        assert_eq!(
            HttpUrl::parse("http://bad_host!/"),
            Err(UrlError::Host("bad_host!".into()))
        );
        assert_eq!(HttpUrl::parse_https("http://x"), Err(UrlError::NotHttps));
    }
}
