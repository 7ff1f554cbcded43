"""Who is calling: OAuth 2.0 bearer JWTs (RFC 9068) verified against a JWKS, the principal they
stand for, the ownership rules every route applies, and a development issuer."""
