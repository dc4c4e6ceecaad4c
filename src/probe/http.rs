//! The probe's HTTP: one client with the configured timeout that never follows a redirect
//! (a redirect is a finding), and answers reduced to what the stages judge.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, DATE, LOCATION};

use crate::net::{FailureKind, NetworkOptions};
use serde_json::Value;

/// A request that got no HTTP answer, named with its URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("connection refused at {url} (is the server running and listening there?)")]
    Refused { url: String },
    #[error("{detail}")]
    Timeout { url: String, detail: String },
    #[error("{detail}")]
    Tls { url: String, detail: String },
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("request to {url} failed: {detail}")]
    Other { url: String, detail: String },
    #[error("{url} sent more than {} MiB; no OpenEMR answer the probe asks for is that large", MAX_BODY / (1024 * 1024))]
    TooLarge { url: String },
}

/// The most of an answer the probe reads: OpenEMR's largest (the CapabilityStatement) is a few
/// hundred KiB, and a server streaming without end must not exhaust memory.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// What the body of an answer is.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyKind {
    /// Nothing (OpenEMR's bare status answers).
    Empty,
    /// A JSON document.
    Json(Value),
    /// An HTML page, with its title when it has one.
    Html(Option<String>),
    /// Anything else.
    Text,
}

/// One HTTP answer.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The URL asked.
    pub url: String,
    /// HTTP status.
    pub status: u16,
    /// `Location`, on redirects.
    pub location: Option<String>,
    /// The body as text.
    pub body: String,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// `Date`, when sent: the server's clock.
    pub date: Option<String>,
    /// Unix seconds on this machine's clock when the answer arrived.
    pub received_at: i64,
}

impl Answer {
    /// Classifies the body.
    pub fn kind(&self) -> BodyKind {
        let trimmed = self.body.trim();
        if trimmed.is_empty() {
            return BodyKind::Empty;
        }
        if trimmed.starts_with('<') {
            return BodyKind::Html(html_title(trimmed));
        }
        match serde_json::from_str(trimmed) {
            Ok(value) => BodyKind::Json(value),
            Err(_) => BodyKind::Text,
        }
    }

    /// The body as JSON, when it is.
    pub fn json(&self) -> Option<Value> {
        match self.kind() {
            BodyKind::Json(value) => Some(value),
            _ => None,
        }
    }

    /// The server's clock minus this machine's, in seconds, from the Date header. HTTP dates
    /// have whole seconds, so differences of a second or two mean nothing.
    pub fn server_offset(&self) -> Option<i64> {
        let date = chrono::DateTime::parse_from_rfc2822(self.date.as_deref()?.trim()).ok()?;
        Some(date.timestamp() - self.received_at)
    }

    /// Whether the status is a redirect.
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// One line for evidence: status and what the body is. Only used for answers that carry
    /// no credential (never a token answer with a token in it).
    pub fn describe(&self) -> String {
        let what = match self.kind() {
            BodyKind::Empty => "an empty body".to_string(),
            BodyKind::Json(_) => format!("JSON {}", snippet(&self.body)),
            BodyKind::Html(Some(title)) => format!("an HTML page titled {title:?}"),
            BodyKind::Html(None) => "an HTML page".to_string(),
            BodyKind::Text => format!("non-JSON text {}", snippet(&self.body)),
        };
        let redirect = match &self.location {
            Some(to) => format!(" redirecting to {to}"),
            None => String::new(),
        };
        format!(
            "{} answered HTTP {}{redirect} with {what}",
            self.url, self.status
        )
    }
}

fn snippet(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let short: String = one_line.chars().take(160).collect();
    if short.len() < one_line.len() {
        format!("{short:?}...")
    } else {
        format!("{short:?}")
    }
}

fn html_title(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let start = start + lower[start..].find('>')? + 1;
    let end = start + lower[start..].find("</title")?;
    let title = html[start..end].trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// The HTTP client of one check. TLS is verified strictly against the public roots: a
/// jwks_uri whose chain does not verify here will not verify for OpenEMR either.
pub struct Http {
    client: reqwest::Client,
    options: NetworkOptions,
    /// Seconds added to this machine's clock (to reproduce a drifted client).
    clock_offset: i64,
    /// Warnings about slow exchanges, collected until a stage takes them.
    slow: std::sync::Mutex<Vec<String>>,
}

impl Http {
    /// A client with `timeout` per request and no redirect following, trusting the public
    /// roots and honouring the proxy variables.
    pub fn new(timeout: Duration) -> Result<Http, String> {
        let options = NetworkOptions {
            timeout,
            ..NetworkOptions::from_process_env()
        };
        Http::with_clock_offset(&options, 0)
    }

    /// A client for `options`, with this machine's clock read `clock_offset` seconds off.
    pub fn with_clock_offset(options: &NetworkOptions, clock_offset: i64) -> Result<Http, String> {
        let client = crate::net::build_client(options).map_err(|e| e.to_string())?;
        Ok(Http {
            client,
            options: options.clone(),
            clock_offset,
            slow: Default::default(),
        })
    }

    /// The exchanges slower than the `--slow` threshold since the last call, as warnings.
    pub fn take_slow(&self) -> Vec<String> {
        std::mem::take(&mut *self.slow.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// `GET url`, with a bearer token when given.
    pub async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Answer, NetError> {
        let mut request = self.client.get(url);
        if let Some(token) = bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(url, request).await
    }

    /// `POST url` with a form-encoded body.
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Answer, NetError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body);
        self.send(url, request).await
    }

    async fn send(&self, url: &str, request: reqwest::RequestBuilder) -> Result<Answer, NetError> {
        let request = request.build().map_err(|e| self.net_error(url, &e))?;
        let method = request.method().clone();
        let started = std::time::Instant::now();
        let mut response = self
            .client
            .execute(request)
            .await
            .map_err(|e| self.net_error(url, &e))?;
        let status = response.status().as_u16();
        crate::net::log_exchange(method.as_str(), url, status, response.headers());
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header(LOCATION);
        let content_type = header(CONTENT_TYPE);
        let date = header(DATE);
        let received_at = chrono::Utc::now().timestamp() + self.clock_offset;
        let body = self.read_body(url, &mut response).await?;
        if let Some(note) = self.options.slow_warning(url, started.elapsed()) {
            self.slow
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(note);
        }
        Ok(Answer {
            url: url.to_string(),
            status,
            location,
            body,
            content_type,
            date,
            received_at,
        })
    }

    /// The proxy a request to `url` goes through, as logs may show it (no password).
    fn proxy_for(&self, url: &str) -> Option<String> {
        let parsed = url::Url::parse(url).ok()?;
        let route = crate::net::route(&parsed, &self.options).ok()?;
        route.proxy_url().map(crate::net::proxy::redact)
    }

    /// The body as text, read in chunks and refused past [`MAX_BODY`].
    async fn read_body(
        &self,
        url: &str,
        response: &mut reqwest::Response,
    ) -> Result<String, NetError> {
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.net_error(url, &e))?
        {
            if bytes.len() + chunk.len() > MAX_BODY {
                return Err(NetError::TooLarge {
                    url: url.to_string(),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn net_error(&self, url: &str, error: &reqwest::Error) -> NetError {
        let url = url.to_string();
        let kind = crate::net::classify(error);
        let detail = crate::net::describe_kind(&kind, &self.options, &url);
        if let Some(proxy) = self.proxy_for(&url) {
            if matches!(kind, FailureKind::Refused | FailureKind::ConnectTimeout) {
                // The connection that failed was to the proxy, not to OpenEMR.
                let detail = format!(
                    "cannot reach the proxy {proxy} on the way to {url} ({}); check --proxy or \
                     HTTPS_PROXY/HTTP_PROXY, or add the host to NO_PROXY",
                    if kind == FailureKind::Refused {
                        "connection refused"
                    } else {
                        "connect timeout"
                    }
                );
                return NetError::Connect { url, detail };
            }
        }
        match kind {
            FailureKind::ConnectTimeout | FailureKind::AnswerTimeout => {
                NetError::Timeout { url, detail }
            }
            FailureKind::Refused => NetError::Refused { url },
            FailureKind::UntrustedCertificate
            | FailureKind::HostnameMismatch
            | FailureKind::Expired
            | FailureKind::NotYetValid
            | FailureKind::TlsTooOld
            | FailureKind::OtherTls(_) => NetError::Tls { url, detail },
            FailureKind::Other(_) if error.is_connect() => NetError::Connect { url, detail },
            FailureKind::Other(_) => NetError::Other { url, detail },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            url: "http://127.0.0.1:1/x".into(),
            status,
            body: body.into(),
            ..Answer::default()
        }
    }

    #[test]
    fn bodies_are_classified() {
        assert_eq!(answer(404, "").kind(), BodyKind::Empty);
        let page = "<!DOCTYPE html><html><head><title>OpenEMR Login</title></head></html>";
        assert_eq!(
            answer(200, page).kind(),
            BodyKind::Html(Some("OpenEMR Login".into()))
        );
        assert_eq!(answer(200, "hello").kind(), BodyKind::Text);
        assert!(matches!(answer(200, "{\"a\":1}").kind(), BodyKind::Json(_)));
    }

    #[test]
    fn descriptions_name_the_url_and_status() {
        let line = answer(404, "").describe();
        assert_eq!(
            line,
            "http://127.0.0.1:1/x answered HTTP 404 with an empty body"
        );
    }
}
