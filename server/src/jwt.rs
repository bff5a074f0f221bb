//! JWT bearer validation: signature, issuer, audience and expiry against configured keys or a JWKS file.
