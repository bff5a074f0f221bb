use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Value, json};

use super::*;

const ISS: &str = "https://idp.example.test";
const AUD: &str = "https://gitgate.example.test/mcp";
const NOW: u64 = 1_800_000_000;
const HS_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";

// Generated for these tests with `openssl genpkey` (RSA 2048, EC P-256, Ed25519) and
// `openssl pkey -pubout`; JWKS components extracted with `openssl rsa -text` / DER. Test-only.
const RSA_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDrRBoDffPXN1SY
7x5q9hwgph8S5mCLbJsUo+osGFoWJ+kDoGYVHgTmnLdkyRwf9Ptr+8U/ImcxJVJF
UML6IqTtJlkD5UzvBjdAjAZbFFpuenj0jemjC+v0qA+c5UuXWetNOCjRSNLvp7fA
lffe+7oAoMJWb5JC0pHwa4Yzz6lzJ4xfz4qy8l4fLovrU63gtZyGT6BcdSvj4epa
Pon11h2CKFMHoSGN2rAbtJ3dwJhA7gkKYi5reuHLelHBgLMc5M5fC4cQdSO1rVkb
/Ip7WrPE5utYv8aPtGOj4UeEAhIUS2GMJzKgyoqb2hyjqFu5ca+R5S/hT9fE11Vf
LLYgcj4LAgMBAAECggEAMKL9D8C/orvtEMrKSomDihpdrS4UQm6a5tr2I9SK9y6c
BORphi8VC0nVvg+3cUHXolzDy8gEdkwFZJAMJuL3npFBcMU8MOPjk0P/Yl/kTBek
nsYhyVPDHWqLA8ABbxInS2jzQ0TfWq0dF0LJof7/VnblhjH9ljPq+L152ocxPD1I
1e4tq7QrBKKujyzV4SHK9H4tqlu+1TLocAhbhNrCy4O/8ipzeYagMlZ5mdWddGi9
KUmKo4rtxsEeJzFzT3qm+wJn5U9Z/DQPJP7FxDd2qY3ooEPMr+rQxMeLJgGYvrFJ
zcipyedZ07WZ/MDQa0AIhdsVjgWng9WmthRXeJu7NQKBgQD3e/2vAqri4L8wJn+m
Vw0S3N/1sRfZDu7cWk2dzA+RKf3XwMEtWUx12OWGFbio0HzNMrJagooTZ3ca7tck
ALWgWruQfPlzr0JtXCIBwib0GrIyQqyDDLTyW4xlWKUqQvqGNYRMqexHGUPuVFO5
/zJxlKiKZv3IHD+CxnMCIvyMnQKBgQDzXHvFL9CKye8AIWNFoxQT06UxhdwHxa16
/NsKgTKk5x2nDITxcAakSC5t3vct6lSxAEAwBZgAtG6YvaO9QNKTYso3Vb0ic+BD
IPKVI0GBsExbegqEJc6m4tcXQRGYLcmpnVoOb7MaXWvfACK3loIFitDSxG671xc4
y7QNcLmwxwKBgE2aHZPxHDCEFK8+gyxfg4P0qm1aGIZBfniuAESIpiD4r9YlZO2Z
YLZbSq1exkZ5CYk2amKjKDSpbtmNJvztFAayLLpD1dyGiifMigVPIfPNIy9LZNi6
9UpBlqZ4w2GbGv9WbKO1bJdmvrxOyOo7sU+YM7kiTlWfNfMF0y5KVjKpAoGAHE6K
mwIXyLz6TtKTYHs6j5/TnDIMyN6mciLNO6iRgnrbiR28rPSx4RQASolfyPhzx27X
CH7uEk7qelu8mvvaQoiAKvWPHV3LHSPM86n5KaOfDhjg9kQLiH/kMvE/oarZxR/n
ZLx7YbqyHGtAnogkMY7XAV0V4EWBjvqqw9Fz1+sCgYBugDA/GjXouvll1CDvMx/W
Yn955nWlcXZHLPaYJH8U7akoFEaSIz//U1nz+Gxhh2pQwQ/YE1qxo2NaV52L8EGj
Z1s4vYyZmzxJleSaBFRAhj3oCPg4cm+zTBv6hP9HoeVfIIPCoo6FMX+QXTeTW0HF
IB44D358AfTKeXPpWRU5Hw==
-----END PRIVATE KEY-----
";
const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA60QaA33z1zdUmO8eavYc
IKYfEuZgi2ybFKPqLBhaFifpA6BmFR4E5py3ZMkcH/T7a/vFPyJnMSVSRVDC+iKk
7SZZA+VM7wY3QIwGWxRabnp49I3powvr9KgPnOVLl1nrTTgo0UjS76e3wJX33vu6
AKDCVm+SQtKR8GuGM8+pcyeMX8+KsvJeHy6L61Ot4LWchk+gXHUr4+HqWj6J9dYd
gihTB6EhjdqwG7Sd3cCYQO4JCmIua3rhy3pRwYCzHOTOXwuHEHUjta1ZG/yKe1qz
xObrWL/Gj7Rjo+FHhAISFEthjCcyoMqKm9oco6hbuXGvkeUv4U/XxNdVXyy2IHI+
CwIDAQAB
-----END PUBLIC KEY-----
";
const EC_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg41LkR4XxhZg7nffR
13Wcne7W/muZmsxGnTIX/iH9SIOhRANCAATtU4GoOvBVonrJ+LomTgSsLXppKkED
CnUFYLQZrRk4guTzbHECOvJaFLFjyLCbpYAEiUYkZ4Noa/j86FOU2n2l
-----END PRIVATE KEY-----
";
const EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7VOBqDrwVaJ6yfi6Jk4ErC16aSpB
Awp1BWC0Ga0ZOILk82xxAjryWhSxY8iwm6WABIlGJGeDaGv4/OhTlNp9pQ==
-----END PUBLIC KEY-----
";
const ED_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIIB/4opp0ACAP8eMO85aBcgvxpbr+4qA5fwpSCl+fGMp
-----END PRIVATE KEY-----
";
const ED_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAOwBV+/yYeoVa8VmYaTW1UujacT6TJA4PQaDKq+icmmw=
-----END PUBLIC KEY-----
";
/// The RSA and EC public keys above as a JWKS (components computed with openssl, not with the
/// library under test).
const JWKS: &str = r#"{"keys": [
    {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
     "n": "60QaA33z1zdUmO8eavYcIKYfEuZgi2ybFKPqLBhaFifpA6BmFR4E5py3ZMkcH_T7a_vFPyJnMSVSRVDC-iKk7SZZA-VM7wY3QIwGWxRabnp49I3powvr9KgPnOVLl1nrTTgo0UjS76e3wJX33vu6AKDCVm-SQtKR8GuGM8-pcyeMX8-KsvJeHy6L61Ot4LWchk-gXHUr4-HqWj6J9dYdgihTB6EhjdqwG7Sd3cCYQO4JCmIua3rhy3pRwYCzHOTOXwuHEHUjta1ZG_yKe1qzxObrWL_Gj7Rjo-FHhAISFEthjCcyoMqKm9oco6hbuXGvkeUv4U_XxNdVXyy2IHI-Cw",
     "e": "AQAB"},
    {"kty": "EC", "kid": "ec-1", "use": "sig", "alg": "ES256", "crv": "P-256",
     "x": "7VOBqDrwVaJ6yfi6Jk4ErC16aSpBAwp1BWC0Ga0ZOII",
     "y": "5PNscQI68loUsWPIsJulgASJRiRng2hr-PzoU5TafaU"},
    {"kty": "RSA", "kid": "enc-1", "use": "enc", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"}
]}"#;

fn config(keys: Vec<KeySource>) -> JwtConfig {
    JwtConfig {
        issuer: ISS.to_owned(),
        audience: AUD.to_owned(),
        keys,
    }
}

fn hs_validator() -> JwtValidator {
    JwtValidator::new(config(vec![KeySource::Hs256Secret {
        kid: None,
        secret: HS_SECRET.to_vec(),
    }]))
    .expect("HS256 validator")
}

fn pem_validator() -> JwtValidator {
    let pem = |text: &str| KeySource::PublicKeyPem {
        kid: None,
        pem: text.as_bytes().to_vec(),
    };
    JwtValidator::new(config(vec![
        pem(RSA_PUBLIC_PEM),
        pem(EC_PUBLIC_PEM),
        pem(ED_PUBLIC_PEM),
    ]))
    .expect("PEM validator")
}

fn jwks_validator() -> (tempfile::TempDir, JwtValidator) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, JWKS).expect("write JWKS");
    let validator =
        JwtValidator::new(config(vec![KeySource::JwksFile(path)])).expect("JWKS validator");
    (dir, validator)
}

fn claims() -> Value {
    json!({
        "iss": ISS,
        "aud": AUD,
        "sub": "alice",
        "exp": NOW + 600,
        "iat": NOW,
        "scope": "git:read github:read",
    })
}

/// `claims()` with `changes` merged in (`null` removes a claim).
fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    if let (Some(map), Some(changes)) = (claims.as_object_mut(), changes.as_object()) {
        for (name, value) in changes {
            if value.is_null() {
                map.remove(name);
            } else {
                map.insert(name.clone(), value.clone());
            }
        }
    }
    claims
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let key = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(HS_SECRET),
        Algorithm::RS256 => EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).expect("rsa"),
        Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PRIVATE_PEM.as_bytes()).expect("ec"),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(ED_PRIVATE_PEM.as_bytes()).expect("ed"),
        other => panic!("no test key for {other:?}"),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key).expect("sign test token")
}

fn hs(claims: &Value) -> String {
    sign(Algorithm::HS256, None, claims)
}

/// `claims()` changed by `changes`, signed with `alg`'s test key under `kid`.
fn tok(alg: Algorithm, kid: Option<&str>, changes: Value) -> String {
    sign(alg, kid, &claims_with(changes))
}

/// `check(validator, token, expected)`: `"ok"` (valid, subject alice) or an error code.
/// Every error message is also checked not to echo the token.
fn check(validator: &JwtValidator, token: &str, expected: &str) {
    match validator.validate_at(token, NOW) {
        Ok(claims) => {
            assert_eq!(expected, "ok", "token accepted");
            assert_eq!(claims.sub, "alice");
        }
        Err(err) => {
            assert_eq!(err.code(), expected, "{err}");
            assert!(err.is_token_error());
            let message = err.to_string();
            for segment in token.split('.').filter(|s| s.len() > 8) {
                assert!(
                    !message.contains(segment),
                    "message echoes the token: {message}"
                );
            }
        }
    }
}

fn unsigned(header: &Value, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", part(header), part(claims))
}

#[test]
fn valid_hs256_token_yields_claims() {
    let claims = hs_validator()
        .validate_at(&hs(&claims()), NOW)
        .expect("valid token");
    assert_eq!(
        claims,
        Claims {
            sub: "alice".to_owned(),
            scopes: vec!["git:read".to_owned(), "github:read".to_owned()],
            exp: NOW + 600,
        }
    );
}

#[test]
fn scopes_from_scope_and_scp() {
    let validator = hs_validator();
    let scopes = |changes: Value| {
        validator
            .validate_at(&hs(&claims_with(changes)), NOW)
            .expect("valid token")
            .scopes
    };
    assert_eq!(
        scopes(json!({"scope": null, "scp": ["git:write", "openid"]})),
        ["git:write", "openid"]
    );
    assert_eq!(scopes(json!({"scope": null, "scp": "a b"})), ["a", "b"]);
    assert_eq!(
        scopes(json!({"scope": "a  b", "scp": ["b", "c"]})),
        ["a", "b", "c"]
    );
    assert!(scopes(json!({"scope": null})).is_empty());
}

/// Claim checks on an HS256 token: time (with leeway), issuer, audience, subject.
#[test]
fn claims_are_checked() {
    let validator = hs_validator();
    #[rustfmt::skip]
    let cases = [
        (json!({}), "ok"),
        (json!({"exp": NOW - LEEWAY_SECS - 1}), "expired"),
        (json!({"exp": NOW - LEEWAY_SECS}), "expired"),
        (json!({"exp": NOW - LEEWAY_SECS + 1}), "ok"),
        (json!({"exp": (NOW + 60) as f64 + 0.5}), "ok"),
        (json!({"exp": null}), "missing-claim"),
        (json!({"exp": "soon"}), "malformed"),
        (json!({"exp": -1}), "missing-claim"),
        (json!({"nbf": NOW + LEEWAY_SECS + 1}), "not-yet-valid"),
        (json!({"nbf": NOW + LEEWAY_SECS}), "ok"),
        (json!({"aud": "https://other.test"}), "wrong-audience"),
        (json!({"aud": ["other", AUD]}), "ok"),
        (json!({"aud": ["other", "x"]}), "wrong-audience"),
        (json!({"aud": null}), "missing-claim"),
        (json!({"iss": "https://evil.test"}), "wrong-issuer"),
        (json!({"iss": null}), "missing-claim"),
        (json!({"sub": null}), "missing-claim"),
        (json!({"sub": ""}), "missing-claim"),
    ];
    for (changes, expected) in cases {
        check(&validator, &hs(&claims_with(changes)), expected);
    }
    let err = validator
        .validate_at(&hs(&claims_with(json!({"iss": "https://evil.test"}))), NOW)
        .expect_err("wrong issuer");
    assert_eq!(
        err.to_string(),
        format!("token issuer is not trusted; expected {ISS}")
    );
    // The wall-clock entry point: a token that expired in 2001 is refused.
    let err = validator.validate(&hs(&claims_with(json!({"exp": 1_000_000_000}))));
    assert!(matches!(err, Err(Error::Expired { .. })), "{err:?}");
}

#[test]
fn tampered_tokens_are_refused() {
    let validator = hs_validator();
    let token = hs(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    // Flip a character in the middle of the signature.
    let mut signature = parts[2].as_bytes().to_vec();
    let middle = signature.len() / 2;
    signature[middle] = if signature[middle] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let signature = String::from_utf8(signature).expect("ascii");
    let tampered = format!("{}.{}.{signature}", parts[0], parts[1]);
    check(&validator, &tampered, "bad-signature");
    // Swap in a payload naming another user, keeping the original signature.
    let forged = URL_SAFE_NO_PAD.encode(claims_with(json!({"sub": "mallory"})).to_string());
    let forged = format!("{}.{forged}.{}", parts[0], parts[2]);
    check(&validator, &forged, "bad-signature");
    // Signed with another secret.
    let other = encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(b"another-secret-of-at-least-32-bytes!"),
    )
    .expect("sign");
    check(&validator, &other, "bad-signature");
}

/// Regression (security issue, item 8): a JWT whose header marked an unknown extension as
/// critical (`crit`) was accepted; RFC 7515 §4.1.11 says such a token must be rejected.
/// Every shape of `crit` is refused, and only after a valid signature would it matter, so
/// each token here is correctly signed.
#[test]
fn critical_header_extensions_are_refused() {
    let validator = hs_validator();
    let signed_with_header = |header: Value| {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let message = format!("{}.{}", part(&header), part(&claims()));
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &EncodingKey::from_secret(HS_SECRET),
            Algorithm::HS256,
        )
        .expect("sign");
        format!("{message}.{signature}")
    };
    // The control: the same token without `crit` is valid.
    check(
        &validator,
        &signed_with_header(json!({"alg": "HS256", "typ": "JWT"})),
        "ok",
    );
    for crit in [
        json!(["exp"]),
        json!(["http://example.com/ext"]),
        json!(["b64"]),
        json!([]),
        json!("exp"),
        json!({"exp": true}),
        json!(null),
        json!(1),
    ] {
        let token = signed_with_header(json!({"alg": "HS256", "crit": crit, "exp": 1}));
        check(&validator, &token, "unsupported-crit");
    }
    // jsonwebtoken's own encoder, as an identity provider would produce it.
    let mut header = Header::new(Algorithm::HS256);
    header.crit = Some(vec!["exp".to_owned()]);
    let token = encode(&header, &claims(), &EncodingKey::from_secret(HS_SECRET)).expect("sign");
    check(&validator, &token, "unsupported-crit");
}

#[test]
fn none_algorithm_is_refused() {
    let (_dir, jwks) = jwks_validator();
    for validator in [&hs_validator(), &pem_validator(), &jwks] {
        for header in [
            json!({"alg": "none", "typ": "JWT"}),
            json!({"alg": "None"}),
            json!({"alg": "none", "kid": "rsa-1"}),
        ] {
            let token = unsigned(&header, &claims());
            assert!(looks_like_jwt(&token));
            check(validator, &token, "unsupported-algorithm");
        }
    }
}

#[test]
fn rs256_and_es256_via_jwks() {
    use Algorithm::{ES256, RS256};
    let (_dir, validator) = jwks_validator();
    #[rustfmt::skip]
    let cases = [
        (RS256, Some("rsa-1"), json!({}), "ok"),
        (ES256, Some("ec-1"), json!({}), "ok"),
        // No kid: every key is tried.
        (ES256, None, json!({}), "ok"),
        // A kid naming a key of another algorithm.
        (ES256, Some("rsa-1"), json!({}), "unsupported-algorithm"),
        (RS256, Some("rsa-2"), json!({}), "unknown-key"),
        // Encryption keys are skipped, so their kid is unknown.
        (RS256, Some("enc-1"), json!({}), "unknown-key"),
        // Claims are still checked after the signature.
        (RS256, Some("rsa-1"), json!({"exp": NOW - 3600}), "expired"),
        (ES256, Some("ec-1"), json!({"aud": "other"}), "wrong-audience"),
    ];
    for (alg, kid, changes, expected) in cases {
        check(&validator, &tok(alg, kid, changes), expected);
    }
}

#[test]
fn rs256_es256_eddsa_via_pem() {
    use Algorithm::{ES256, EdDSA, RS256};
    let validator = pem_validator();
    #[rustfmt::skip]
    let cases = [
        (RS256, None, "ok"),
        (ES256, None, "ok"),
        (EdDSA, None, "ok"),
        // Keys configured without a kid accept tokens that carry one.
        (RS256, Some("2026-key"), "ok"),
    ];
    for (alg, kid, expected) in cases {
        check(&validator, &tok(alg, kid, json!({})), expected);
    }
    // An HMAC-only validator has no key for RS256.
    check(
        &hs_validator(),
        &tok(RS256, None, json!({})),
        "unsupported-algorithm",
    );
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    // The classic algorithm-confusion attack: sign HS256 with the RSA public key as secret.
    let forged = encode(
        &Header::new(Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(RSA_PUBLIC_PEM.as_bytes()),
    )
    .expect("sign");
    check(&pem_validator(), &forged, "unsupported-algorithm");
}

#[test]
fn malformed_tokens_are_refused() {
    let validator = hs_validator();
    let header = hs(&claims())
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    for token in [
        "opaque-token".to_owned(),
        "a.b.c".to_owned(),
        "e30.e30.sig".to_owned(),
        unsigned(&json!({"typ": "JWT"}), &claims()),
        "a".repeat(MAX_TOKEN_LEN + 1),
        format!("{header}.!!!.x"),
    ] {
        check(&validator, &token, "malformed");
    }
}

#[test]
fn looks_like_jwt_shapes() {
    #[rustfmt::skip]
    let cases = [
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", true),
        ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", true),
        ("ggt_0123456789abcdef", false),
        ("a.b", false),
        ("a.b.c.d", false),
        (".b.c", false),
        ("a..c", false),
        ("a+b.c.d", false),
        ("a.b.c=", false),
        ("", false),
    ];
    for (token, expected) in cases {
        assert_eq!(looks_like_jwt(token), expected, "{token:?}");
    }
}

#[test]
fn configuration_errors_are_actionable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let pem = |text: &str| KeySource::PublicKeyPem {
        kid: None,
        pem: text.as_bytes().to_vec(),
    };
    let cases: Vec<(Vec<KeySource>, &str)> = vec![
        (vec![], "no verification keys"),
        (
            vec![KeySource::Hs256Secret {
                kid: None,
                secret: b"short".to_vec(),
            }],
            "5 bytes is too short",
        ),
        (vec![pem(RSA_PRIVATE_PEM)], "this is a private key"),
        (vec![pem("hello")], "not PEM"),
        (
            vec![pem(
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
            )],
            "not an RSA, EC",
        ),
        (
            vec![KeySource::JwksFile(write("bad.json", "{"))],
            "not a JSON Web Key Set",
        ),
        (
            vec![KeySource::JwksFile(write(
                "enc.json",
                r#"{"keys":[{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}"#,
            ))],
            "no usable signing key",
        ),
        (
            vec![KeySource::JwksFile(dir.path().join("missing.json"))],
            "cannot read JWT key file",
        ),
    ];
    for (keys, expected) in cases {
        let err = JwtValidator::new(config(keys)).expect_err(expected);
        assert!(err.to_string().contains(expected), "{err}");
        assert_eq!(err.code(), "config");
        assert!(!err.is_token_error());
    }
    let mut empty_issuer = config(vec![pem(RSA_PUBLIC_PEM)]);
    empty_issuer.issuer = " ".to_owned();
    assert!(JwtValidator::new(empty_issuer).is_err());
    // PEM from a file.
    let path = write("ec.pub.pem", EC_PUBLIC_PEM);
    let source = KeySource::pem_file(&path, Some("ec".to_owned())).expect("read pem");
    let validator = JwtValidator::new(config(vec![source])).expect("validator");
    check(
        &validator,
        &tok(Algorithm::ES256, Some("ec"), json!({})),
        "ok",
    );
}

#[test]
fn debug_does_not_print_secrets() {
    let source = KeySource::Hs256Secret {
        kid: Some("k".to_owned()),
        secret: HS_SECRET.to_vec(),
    };
    let debug = format!("{source:?}");
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
    let debug = format!("{:?}", hs_validator());
    assert!(!debug.contains("0123456789abcdef"), "{debug}");
}

#[test]
fn a_rotated_jwks_is_picked_up_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    let full: Value = serde_json::from_str(JWKS).expect("jwks");
    let only_rsa = json!({"keys": [full["keys"][0].clone()]});
    std::fs::write(&path, only_rsa.to_string()).expect("write");
    let token = sign(Algorithm::ES256, Some("ec-1"), &claims());

    // Reloads at most once per interval: the first unknown kid reads the file again ...
    let throttled =
        JwtValidator::new(config(vec![KeySource::JwksFile(path.clone())])).expect("validator");
    assert!(matches!(
        throttled.validate_at(&token, NOW),
        Err(Error::UnknownKey { .. })
    ));
    // ... the provider publishes the new key, and a second try right away does not reread.
    std::fs::write(&path, JWKS).expect("rotate");
    assert!(matches!(
        throttled.validate_at(&token, NOW),
        Err(Error::UnknownKey { .. })
    ));

    // Without the throttle the new key is found on the next token that names it.
    std::fs::write(&path, only_rsa.to_string()).expect("write");
    let eager = JwtValidator::new(config(vec![KeySource::JwksFile(path.clone())]))
        .expect("validator")
        .with_reload_interval(std::time::Duration::ZERO);
    assert!(eager.validate_at(&token, NOW).is_err());
    std::fs::write(&path, JWKS).expect("rotate");
    assert_eq!(
        eager.validate_at(&token, NOW).expect("rotated key").sub,
        "alice"
    );
    // A broken file later keeps the keys that work.
    std::fs::write(&path, "{not json").expect("break");
    let other = sign(Algorithm::ES256, Some("ec-9"), &claims());
    assert!(eager.validate_at(&other, NOW).is_err());
    assert_eq!(
        eager.validate_at(&token, NOW).expect("still valid").sub,
        "alice"
    );
}
