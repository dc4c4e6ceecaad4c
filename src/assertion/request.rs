//! The token request a client sent, as captured (raw HTTP text, or headers and a body), and
//! the rules OpenEMR's client_credentials grant applies to it before the assertion is read:
//! a POST of a form body to /oauth2/SITE/token with the jwt-bearer fields, and no secrets.

use std::collections::HashMap;

use crate::openemr::fault::Fault;
use crate::openemr::{Family, JWT_BEARER};

/// A captured token request. Header values and the body may hold secrets: never print them.
#[derive(Debug, Clone, Default)]
pub struct CapturedRequest {
    /// The method, when known.
    pub method: Option<String>,
    /// The request target: a path or an absolute URL, when known.
    pub target: Option<String>,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body as sent.
    pub body: String,
}

/// How the body is really encoded, whatever its Content-Type says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Empty,
    Form,
    Multipart,
    Json,
}

impl CapturedRequest {
    /// Reads raw HTTP request text: a request line, headers, a blank line, the body.
    pub fn parse_raw(text: &str) -> CapturedRequest {
        let text = text.trim_start();
        let (head, body) = split_head(text);
        let mut lines = head.lines();
        let mut request = CapturedRequest::default();
        if let Some(first) = lines.next() {
            let mut words = first.split_whitespace();
            request.method = words.next().map(str::to_string);
            request.target = words.next().map(str::to_string);
        }
        request.headers = lines.filter_map(parse_header).collect();
        request.body = body.to_string();
        request
    }

    /// Adds a `Name: value` header line.
    pub fn add_header(&mut self, line: &str) -> Result<(), String> {
        let header = parse_header(line).ok_or_else(|| format!("{line:?} is not Name: value"))?;
        self.headers.push(header);
        Ok(())
    }

    /// A header's value (the first of that name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The Content-Type essence, lower-cased.
    pub fn content_type(&self) -> Option<String> {
        let value = self.header("content-type")?;
        Some(value.split(';').next()?.trim().to_ascii_lowercase())
    }

    /// What the body really is.
    pub fn body_format(&self) -> BodyFormat {
        let body = self.body.trim_start();
        if body.is_empty() {
            BodyFormat::Empty
        } else if body.starts_with('{') {
            BodyFormat::Json
        } else if body.starts_with("--")
            && body.to_ascii_lowercase().contains("content-disposition")
        {
            BodyFormat::Multipart
        } else {
            BodyFormat::Form
        }
    }

    /// The body's fields, read in the format the body really has.
    pub fn fields(&self) -> HashMap<String, String> {
        match self.body_format() {
            BodyFormat::Empty => HashMap::new(),
            BodyFormat::Form => form_urlencoded::parse(self.body.trim().as_bytes())
                .into_owned()
                .collect(),
            BodyFormat::Json => json_fields(&self.body),
            BodyFormat::Multipart => multipart_fields(&self.body),
        }
    }
}

fn split_head(text: &str) -> (&str, &str) {
    for separator in ["\r\n\r\n", "\n\n"] {
        if let Some((head, body)) = text.split_once(separator) {
            return (head, body);
        }
    }
    (text, "")
}

fn parse_header(line: &str) -> Option<(String, String)> {
    let (name, value) = line.split_once(':')?;
    let name = name.trim();
    (!name.is_empty() && !name.contains(' ')).then(|| (name.to_string(), value.trim().to_string()))
}

fn json_fields(body: &str) -> HashMap<String, String> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(body) else {
        return HashMap::new();
    };
    map.into_iter()
        .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
        .collect()
}

fn multipart_fields(body: &str) -> HashMap<String, String> {
    let normalised = body.replace("\r\n", "\n");
    let mut fields = HashMap::new();
    for part in normalised.split("\n--").map(|p| p.trim_start_matches('-')) {
        let Some((head, value)) = part.split_once("\n\n") else {
            continue;
        };
        let name = head.split(';').find_map(|p| {
            p.trim()
                .strip_prefix("name=")
                .map(|n| n.trim().trim_matches('"').to_string())
        });
        if let Some(name) = name {
            fields.insert(name, value.trim_end_matches(['\n', '-']).trim().to_string());
        }
    }
    fields
}

/// What the request rules compare with.
#[derive(Debug, Clone)]
pub struct RequestContext<'a> {
    pub family: Family,
    /// The advertised token endpoint, when known.
    pub token_endpoint: Option<&'a str>,
    /// The site id.
    pub site: &'a str,
}

/// Every fault of the request (the assertion inside it is judged separately).
pub fn check(request: &CapturedRequest, ctx: &RequestContext<'_>) -> Vec<Fault> {
    let fields = request.fields();
    let mut faults = Vec::new();
    faults.extend(target_faults(request, ctx));
    faults.extend(super::request_auth::authorization_faults(request, &fields));
    faults.extend(body_format_faults(request));
    faults.extend(field_faults(&fields));
    faults.extend(super::request_auth::secret_field_faults(&fields));
    faults.extend(super::request_scopes::scope_faults(&fields, ctx.family));
    faults
}

fn target_faults(request: &CapturedRequest, ctx: &RequestContext<'_>) -> Vec<Fault> {
    let mut faults = Vec::new();
    if let Some(method) = request
        .method
        .as_deref()
        .filter(|m| !m.eq_ignore_ascii_case("POST"))
    {
        faults.push(Fault::refused(
            "method",
            format!(
                "the token request is a {method}; OpenEMR reads the fields of a POST body only \
                 (400 Bad request)"
            ),
            "POST the fields as an application/x-www-form-urlencoded body",
        ));
    }
    let Some(target) = request.target.as_deref() else {
        return faults;
    };
    let path = target_path(target);
    let wanted = ctx
        .token_endpoint
        .map(target_path)
        .unwrap_or_else(|| format!("/oauth2/{}/token", ctx.site));
    let fits = if ctx.token_endpoint.is_some() {
        path == wanted
    } else {
        path.ends_with(&wanted) && !path.contains("/apis/")
    };
    if fits {
        return faults;
    }
    let why = if path.contains("/apis/") && path.contains("/oauth2/") {
        "OAuth lives under /oauth2/SITE/, not under the FHIR/API base /apis/SITE/"
    } else {
        "that is not the token endpoint's path"
    };
    let endpoint = ctx
        .token_endpoint
        .unwrap_or("the token_endpoint of …/fhir/.well-known/smart-configuration");
    faults.push(Fault::refused(
        "post-target",
        format!("the request is posted to {path}, not {wanted}: {why}"),
        format!("POST to {endpoint} and keep the FHIR base (…/apis/SITE/fhir) separate"),
    ));
    faults
}

/// The path of a request target that is a path or an absolute URL.
fn target_path(target: &str) -> String {
    match url::Url::parse(target) {
        Ok(url) => url.path().to_string(),
        Err(_) => target.split('?').next().unwrap_or("").to_string(),
    }
}

const FORM_FIX: &str = "send the fields as application/x-www-form-urlencoded (and label them so)";
const FORM: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

fn body_format_faults(request: &CapturedRequest) -> Vec<Fault> {
    let declared = request.content_type();
    let what = match (declared.as_deref(), request.body_format()) {
        (_, BodyFormat::Empty) => {
            "the request has no body; OpenEMR reads every field from a form body".to_string()
        }
        (_, BodyFormat::Json) => "the body is JSON; OpenEMR reads only form fields, so it sees \
                                  no grant_type (400 invalid_request \"Bad request\")"
            .to_string(),
        (Some(FORM), BodyFormat::Multipart) => format!(
            "the body is {MULTIPART} but labelled {FORM}: the server parses it as one garbled \
             form and finds no fields"
        ),
        (Some(MULTIPART), BodyFormat::Form) => {
            format!("the body is urlencoded but labelled {MULTIPART}: the server finds no parts")
        }
        (None, _) => {
            "the request has no Content-Type; PHP only parses a labelled form body".to_string()
        }
        (Some(FORM), BodyFormat::Form) => return Vec::new(),
        (Some(MULTIPART), BodyFormat::Multipart) => return vec![multipart_warning()],
        (Some(other), _) => format!("the body is labelled {other}; OpenEMR reads only form bodies"),
    };
    vec![Fault::refused("body-format", what, FORM_FIX)]
}

fn multipart_warning() -> Fault {
    let what =
        format!("the body is {MULTIPART}; OpenEMR accepts it, but OAuth token requests are {FORM}");
    Fault::warning("body-multipart", what, FORM_FIX)
}

fn field_faults(fields: &HashMap<String, String>) -> Vec<Fault> {
    let mut faults = Vec::new();
    match fields.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        None => faults.push(Fault::refused(
            "grant-type",
            "no grant_type field (400 invalid_request \"Bad request\")",
            "send grant_type=client_credentials",
        )),
        Some(other) => faults.push(Fault::refused(
            "grant-type",
            format!("grant_type is {other:?}, not client_credentials"),
            "send grant_type=client_credentials",
        )),
    }
    if fields.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        let found = fields
            .get("client_assertion_type")
            .map_or("missing".to_string(), |t| format!("{t:?}"));
        faults.push(Fault::refused(
            "assertion-type",
            format!(
                "client_assertion_type is {found} (400 invalid_request \"assertion type is not \
                 supported\")"
            ),
            format!("send client_assertion_type={JWT_BEARER}"),
        ));
    }
    if fields
        .get("client_assertion")
        .is_none_or(|a| a.trim().is_empty())
    {
        faults.push(Fault::refused(
            "assertion-missing",
            "no client_assertion field (F1 answers an empty HTTP 500)",
            "send the signed RS384 JWT as the client_assertion form field",
        ));
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_requests_and_their_bodies_are_read() {
        let raw = "POST /oauth2/default/token HTTP/1.1\r\nHost: h\r\nContent-Type: \
                   application/x-www-form-urlencoded\r\n\r\ngrant_type=client_credentials&scope=a+b";
        let request = CapturedRequest::parse_raw(raw);
        assert_eq!(request.method.as_deref(), Some("POST"));
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(request.fields()["scope"], "a b");
        let multipart = CapturedRequest {
            body: "--X\r\nContent-Disposition: form-data; \
                name=\"grant_type\"\r\n\r\nclient_credentials\r\n--X--\r\n"
                .into(),
            ..CapturedRequest::default()
        };
        assert_eq!(multipart.body_format(), BodyFormat::Multipart);
        assert_eq!(multipart.fields()["grant_type"], "client_credentials");
    }
}
